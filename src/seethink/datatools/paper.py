"""Import the paper's released datasets (and rows in its other schemas) as seethink records.

Schemas read:
    released HF rows   problem, answer, images (+ pass_rate, source, predictions, correctness …)
    its stage-1 files  prompt (with `<image>` and `Options:\\nA: …`), image_path, option_A…option_D, answer,
                       example_id, index -- what its `format_for_training.py` writes
    EasyR1 / verl      problem or prompt, answer, images; `data_source` as the source
The `<image>` placeholder is dropped (seethink's prompt places the image itself), and so is the stage-1
instruction "Respond using only the letter …", which contradicts think-then-box. MCQs get `options` (from
option_X columns, or the option lines ending the problem when the answer is a letter), so the reward accepts
the letter or the option text. Extra columns pass through; embedded images are written as PNG files.

The capability comes from `--capability`, else from a `capability` column, else from the dataset's name
(…Perception…, …TextReasoning…, …VisualReasoning…), else text_reasoning for rows without images.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from seethink.datatools.external import first_field, image_files, read_rows, relative_to
from seethink.errors import SeethinkError
from seethink.fileio import check_folder_target, ensure_dir, write_jsonl
from seethink.records.mcq import format_mcq, split_options
from seethink.records.schema import CAPABILITIES, check_split_name, validate_record
from seethink.rewards import extract_boxed

PROBLEM_KEYS = ("problem", "prompt", "question")
IMAGE_KEYS = ("images", "image", "image_path", "image_file", "file_name")
ID_KEYS = ("id", "example_id", "index")
NAME_HINTS = (
    ("textreasoning", "text_reasoning"),
    ("text_reasoning", "text_reasoning"),
    ("visualreasoning", "visual_reasoning"),
    ("visual_reasoning", "visual_reasoning"),
    ("perception", "perception"),
)
LETTER_ONLY = re.compile(r"\s*Respond using only the letter[^\n]*", re.IGNORECASE)


def capability_from_name(name: str) -> str | None:
    flat = name.lower().replace("-", "").replace(" ", "")
    return next((cap for hint, cap in NAME_HINTS if hint.replace("_", "") in flat.replace("_", "")), None)


def _problem_and_options(row: dict, problem: str, answer: str) -> tuple[str, list[str] | None]:
    problem = LETTER_ONLY.sub("", problem.replace("<image>", "")).strip()
    columns = [row[f"option_{c}"] for c in "ABCDEFGH" if row.get(f"option_{c}") not in (None, "")]
    parsed = split_options(problem)
    if len(columns) >= 2:
        question = parsed[0] if parsed else problem
        return format_mcq(question, [str(o) for o in columns]), [str(o) for o in columns]
    if parsed and len(answer) == 1 and answer.upper() in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(parsed[1])]:
        return format_mcq(*parsed), parsed[1]
    return problem, None


def _jsonable(value) -> bool:
    """Extra columns pass through when they fit in JSONL (an embedded blob in a column of its own does not)."""
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def to_record(
    row: dict, where: str, base: Path, images_dir: Path, default_id: str, capability: str | None, source: str
) -> dict:
    """One foreign row as a validated seethink record."""
    pkey, problem = first_field(row, PROBLEM_KEYS)
    if pkey is None or not isinstance(problem, str):
        raise SeethinkError(f"{where}: no problem text (looked for {', '.join(PROBLEM_KEYS)})")
    if row.get("answer") in (None, ""):
        raise SeethinkError(f"{where}: missing required field 'answer'")
    answer = str(row["answer"]).strip()
    answer = extract_boxed(answer) or answer
    ikey, images = first_field(row, IMAGE_KEYS)
    paths = image_files(images, base, images_dir, where, ikey) if ikey else []
    cap = capability or row.get("capability") or ("text_reasoning" if not paths else None)
    if cap is None:
        raise SeethinkError(
            f"{where}: cannot tell the capability of image rows; pass --capability ({', '.join(CAPABILITIES)})"
        )
    problem, options = _problem_and_options(row, problem, answer)
    if options is not None:
        answer = answer.upper()
    _, rid = first_field(row, ID_KEYS)
    used = {pkey, ikey, "answer", "capability", *(f"option_{c}" for c in "ABCDEFGH"), "data_source"}
    rec = {
        k: v for k, v in row.items() if k not in used and k not in IMAGE_KEYS and _jsonable(v)
    }  # extras pass through
    rec.update(
        id=str(rid) if rid is not None else default_id,
        problem=problem,
        answer=answer,
        capability=cap,
        images=paths,
        options=options,
        source=str(row.get("source") or row.get("data_source") or source),
        family=str(row.get("family") or ""),
    )
    if rec.get("pass_rate") is not None and not isinstance(rec["pass_rate"], (int, float)):
        rec["pass_rate"] = None
    return validate_record(rec, where)


def import_rows(
    src: str,
    out: str | Path,
    split: str = "train",
    as_split: str | None = None,
    capability: str | None = None,
    limit: int = 0,
) -> tuple[Path, Counter]:
    """Write `out/<as_split>.jsonl` (+ `out/images/`) from `src`; returns the file and counts per capability.

    Images are staged next to `out` and moved in only when every row converted: a bad row leaves `out` as it
    was (other splits imported into the same folder stay)."""
    if capability is not None and capability not in CAPABILITIES:
        raise SeethinkError(f"--capability must be one of {', '.join(CAPABILITIES)}, got {capability!r}")
    out = check_folder_target(out)
    check_split_name(as_split or split, "--as-split" if as_split else "--split")  # a file name inside `out`
    rows, base = read_rows(src, split)
    if limit:
        rows = rows[:limit]
    if not rows:
        raise SeethinkError(f"{src}: no rows in split {split!r}")
    name = str(src).rstrip("/").split("/")[-1]
    capability = capability or capability_from_name(str(src))
    ensure_dir(out.parent)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.import.", dir=out.parent) as staging:
        staged = Path(staging).resolve()
        records, seen = [], Counter()
        for i, (where, row) in enumerate(rows):
            rec = to_record(row, where, base, staged / "images", f"{name}-{split}-{i:07d}", capability, name)
            seen[rec["id"]] += 1
            if seen[rec["id"]] > 1:  # foreign ids (an `index` per file) repeat across files: keep them apart
                rec["id"] = f"{rec['id']}-{seen[rec['id']]}"
            rec["images"] = [relative_to(p, staged) for p in rec["images"]]  # images/<sha>.png, as it will be in out
            records.append(rec)
        if (staged / "images").is_dir():
            ensure_dir(out / "images")
        for f in (staged / "images").glob("*.png"):
            if not (out / "images" / f.name).exists():  # content-addressed: same name, same bytes
                os.replace(f, out / "images" / f.name)
    target = ensure_dir(out) / f"{as_split or split}.jsonl"
    write_jsonl(target, records)
    return target, Counter(r["capability"] for r in records)
