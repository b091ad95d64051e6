"""Perception MCQs from dense captions (`seethink data synth-perception`), the paper's stage-1 recipe.

A generator LLM reads one dense caption (DOCCI / PixmoCap style) and writes one 4-option question about a
spatial relation or a fine visible detail, as JSON. It never sees the image: the caption is the ground truth.
Beyond the paper's scripts:
- a reply that is not the JSON asked for (no object, not four distinct options, an answer that names no
  option) is skipped and counted by reason, and kept with its reply in `skipped.jsonl`, never a crash;
- options are shuffled and the correct letter is dealt from shuffled ABCD blocks (the paper kept the
  generator's order, whose letters are far from uniform);
- replies are cached as they arrive: an interrupted run, rerun, asks nothing twice.
Next: `seethink data filter` (the paper's keep rule, a blind filter, near-duplicates).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

from seethink.datatools.external import first_field, image_files, read_rows, relative_to
from seethink.datatools.paper import IMAGE_KEYS
from seethink.errors import SeethinkError
from seethink.fileio import check_folder_target, ensure_dir, write_json, write_jsonl
from seethink.models.chat import ChatModel, Prompt, ReplyCache, cached
from seethink.records.mcq import LETTERS, LetterDealer, format_mcq, place_answer
from seethink.records.schema import validate_record

PROMPT_VERSION = 1
CAPTION_KEYS = ("caption", "description", "dense_caption", "text")
INSTRUCTIONS = """\
Below is a detailed description of an image. Write one multiple-choice question about the image that can be
answered only by looking at it carefully. Ask about a spatial relation (relative position, direction, size or
distance) or a fine visible detail (a colour, a number of things, a small object, written text). Give exactly
four options, similar in form, with one correct answer and three plausible wrong ones. Use only what the
description states.

Reply with JSON only, in this form:
{"question": "...", "options": ["...", "...", "...", "..."], "answer": "the correct option, copied exactly"}

Description:
"""


class Unusable(ValueError):
    """A generation that is not a usable MCQ; the message is the reason counted in the summary."""


def _json_object(reply: str) -> dict:
    text = re.sub(r"```(?:json)?", "", reply or "")
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        raise Unusable("no JSON object")
    try:
        obj = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        raise Unusable("malformed JSON") from None
    if not isinstance(obj, dict):
        raise Unusable("no JSON object")
    return obj


def parse_mcq(reply: str) -> tuple[str, str, list[str]]:
    """(question, correct option, three wrong options) from a generator reply; raises Unusable(reason).

    Options may be a list or a {"A": …} mapping; the answer may be the option text, its letter or its index."""
    obj = _json_object(reply)
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise Unusable("no question")
    options = obj.get("options")
    if isinstance(options, dict):
        options = [options.get(k) for k in sorted(options)]
    if not isinstance(options, list) or len(options) != 4 or not all(isinstance(o, str) and o.strip() for o in options):
        raise Unusable("not four options")
    options = [o.strip() for o in options]
    if len({o.lower() for o in options}) < 4:
        raise Unusable("repeated options")
    answer = obj.get("answer")
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < 4:
        k = answer
    elif isinstance(answer, str) and answer.strip().upper().rstrip(".):") in LETTERS and len(answer.strip()) <= 2:
        k = LETTERS.index(answer.strip().upper().rstrip(".):"))
    elif isinstance(answer, str) and answer.strip().lower() in [o.lower() for o in options]:
        k = [o.lower() for o in options].index(answer.strip().lower())
    else:
        raise Unusable("answer names no option")
    return question.strip(), options[k], options[:k] + options[k + 1 :]


def _pairs(src: str, split: str, images_dir: Path, limit: int = 0) -> list[dict]:
    """The first `limit` (all if 0) (image, caption) rows; only their embedded images are written out."""
    rows, base = read_rows(src, split)
    pairs, seen = [], set()
    for i, (where, row) in enumerate(rows[: limit or None]):
        caption = next((row[k] for k in CAPTION_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if caption is None:
            raise SeethinkError(f"{where}: no caption (looked for {', '.join(CAPTION_KEYS)})")
        key, images = first_field(row, IMAGE_KEYS)
        if key is None:
            raise SeethinkError(f"{where}: no image (looked for {', '.join(IMAGE_KEYS)})")
        rid = str(row.get("id") or row.get("example_id") or f"caption-{i:07d}")
        if rid in seen:
            raise SeethinkError(f"{where}: duplicate id {rid!r}")
        seen.add(rid)
        pairs.append(
            {"id": rid, "caption": caption.strip(), "images": image_files(images, base, images_dir, where, key)}
        )
    return pairs


def synth_perception(
    src: str, out: str | Path, generator: ChatModel, split: str = "train", seed: int = 0, limit: int = 0
) -> dict:
    """Write `out/<split>.jsonl` (perception MCQ records), `out/skipped.jsonl` and `out/summary.json`."""
    out = check_folder_target(out)
    ensure_dir(out)
    pairs = _pairs(src, split, out / "images", limit)
    if not pairs:
        raise SeethinkError(f"{src}: no (image, caption) pairs in split {split!r}")
    ask = cached(
        generator,
        ReplyCache(out / "generator_cache.jsonl", f"synth-v{PROMPT_VERSION}"),
        chunk=16,
        label="writing MCQs from captions",
    )
    replies = ask([Prompt(INSTRUCTIONS + p["caption"]) for p in pairs])
    rng = random.Random(seed)
    deal = LetterDealer(rng)
    records, skipped, reasons = [], [], Counter()
    for pair, reply in zip(pairs, replies):
        try:
            question, correct, wrong = parse_mcq(reply)
        except Unusable as e:
            reasons[str(e)] += 1
            skipped.append({"id": pair["id"], "reason": str(e), "reply": reply})
            continue
        rng.shuffle(wrong)
        letter = deal()
        options = place_answer(correct, wrong, letter)
        rec = {
            "id": f"{pair['id']}-mcq",
            "capability": "perception",
            "family": "caption_mcq",
            "problem": format_mcq(question, options),
            "answer": letter,
            "options": options,
            "caption": pair["caption"],
            "images": [relative_to(p, out) for p in pair["images"]],
            "source": "synth-perception",
            "generator": generator.identity,
        }
        records.append(validate_record(rec, f"{out}/{split}.jsonl: {rec['id']}"))
    write_jsonl(out / "skipped.jsonl", skipped)
    if not records:
        raise SeethinkError(
            f"generator {generator.identity}: no usable MCQ in {len(pairs)} replies "
            f"({', '.join(f'{k}: {v}' for k, v in reasons.most_common())}); see {out / 'skipped.jsonl'}"
        )
    write_jsonl(out / f"{split}.jsonl", records)
    summary = {
        "captions": len(pairs),
        "mcqs": len(records),
        "skipped": dict(reasons),
        "generator": generator.identity,
        "correct_letters": dict(sorted(Counter(r["answer"] for r in records).items())),
        "seed": seed,
        "prompt_version": PROMPT_VERSION,
    }
    write_json(out / "summary.json", summary)
    return summary
