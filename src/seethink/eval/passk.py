"""`seethink passk MODEL --data DIR --k 16`: estimate each item's pass rate, for difficulty curricula.

Each item is answered K times by sampling; its `pass_rate` (fraction of correct answers) is written into the
records. Many items × K samples go through one `generate` call (`--batch-size` items per call).

Resumable and deterministic: items are processed in fixed chunks; each finished chunk is appended to a
progress file next to the data (`.<split>.passk.jsonl`, first line = the settings), and each chunk is
sampled with a seed derived from the run's seed and the chunk's first item, so a resumed run gives the
same numbers as an uninterrupted one. When every item is scored, the split file is rewritten (atomically,
in its own format, all other fields untouched) with `pass_rate` filled in and the progress file is removed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rich.progress import Progress

from seethink.errors import SeethinkError
from seethink.eval.datasets import find_datasets
from seethink.fileio import atomic_path, write_jsonl, write_text
from seethink.models.generate import generate
from seethink.models.vllm_engine import load_generator
from seethink.records.io import load_records, split_file
from seethink.rewards import accuracy
from seethink.seeding import derive_seed

MAX_TEMPERATURE = 100.0  # past this, sampling is uniform noise; inf or nan would fail inside torch.multinomial


def progress_path(data_file: Path) -> Path:
    return data_file.parent / f".{data_file.stem}.passk.jsonl"


def _read_progress(path: Path, settings: dict) -> dict[str, int]:
    """{id: correct count} from a previous, interrupted run with the same settings ({} if none)."""
    if not path.exists():
        return {}
    lines = path.read_text().split("\n")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if header != settings:
        raise SeethinkError(
            f"{path}: an interrupted pass@K run with other settings ({header}); "
            "rerun with those settings or delete the file"
        )
    done = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break  # a chunk cut off mid-write by a kill: it is recomputed
        done[row["id"]] = row["correct"]
    return done


def _append(path: Path, rows: list[dict]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
        fh.flush()
        os.fsync(fh.fileno())


def sample_correct(
    model,
    processor,
    records: list[dict],
    k: int,
    seed: int,
    temperature: float,
    max_new_tokens: int,
    top_p: float = 1.0,
    top_k: int = 0,
) -> list[int]:
    """Correct answers out of K samples for each record, all in one generate call (top_k 0 = off)."""
    outs = generate(
        model,
        processor,
        records,
        max_new_tokens=max_new_tokens,
        batch_size=len(records),
        do_sample=True,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        num_return_sequences=k,
        seed=seed,
        desc="pass@K",
    )
    return [sum(accuracy(c.text, r["answer"], r.get("options")) == 1.0 for c in cs) for r, cs in zip(records, outs)]


def _rewrite_with_pass_rates(f: Path, rates: dict[str, float]) -> None:
    if f.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = pq.read_table(f).to_pylist()
        for r in rows:
            r["pass_rate"] = rates[r["id"]]
        with atomic_path(f) as tmp:
            pq.write_table(pa.Table.from_pylist(rows), tmp)
        return
    rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        r["pass_rate"] = rates[r["id"]]
    write_jsonl(f, rows)


def passk_file(
    model,
    processor,
    f: Path,
    k: int,
    chunk: int = 16,
    temperature: float = 1.0,
    max_new_tokens: int = 96,
    seed: int = 0,
    model_name: str = "",
    records: list[dict] | None = None,
    top_p: float = 1.0,
    top_k: int = 0,
) -> dict:
    """Score every record of one split file (`records`: that file, already loaded); returns
    {"items", "mean_pass_rate", "solved", "unsolved"}."""
    records = load_records(f) if records is None else records
    settings = {
        "model": model_name,
        "k": k,
        "chunk": chunk,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "items": len(records),
    }
    prog = progress_path(f)
    done = _read_progress(prog, settings)
    if not prog.exists():
        write_text(prog, json.dumps(settings) + "\n")  # atomic: a kill never leaves half a header
    with Progress() as bar:
        task = bar.add_task(f"pass@{k} {f.parent.name}/{f.name}", total=len(records), completed=len(done))
        for start in range(0, len(records), chunk):
            part = records[start : start + chunk]
            if all(r["id"] in done for r in part):
                continue
            correct = sample_correct(
                model, processor, part, k, derive_seed(seed, part[0]["id"]), temperature, max_new_tokens, top_p, top_k
            )
            rows = [{"id": r["id"], "correct": c} for r, c in zip(part, correct)]
            _append(prog, rows)
            done.update({r["id"]: r["correct"] for r in rows})
            bar.update(task, completed=len(done))
    rates = {r["id"]: done[r["id"]] / k for r in records}
    _rewrite_with_pass_rates(f, rates)
    prog.unlink()
    values = list(rates.values())
    return {
        "file": str(f),
        "items": len(values),
        "mean_pass_rate": sum(values) / len(values),
        "solved": sum(v == 1 for v in values),
        "unsolved": sum(v == 0 for v in values),
    }


def passk(
    model_path,
    data,
    split: str,
    k: int,
    chunk: int = 16,
    temperature: float = 1.0,
    max_new_tokens: int = 1024,
    seed: int = 0,
    top_p: float = 1.0,
    top_k: int = 0,
    engine: str = "transformers",
) -> list[dict]:
    """Pass rates for every dataset under `data` (a world folder, a dataset folder or a file).

    The paper's settings: K = 16, temperature 0.7, top_p 0.9, top_k 20 (and 1,024 new tokens on real data)."""
    if not 0 < temperature <= MAX_TEMPERATURE:
        raise SeethinkError(f"pass@K samples: --temperature must be in (0, {MAX_TEMPERATURE:g}], got {temperature}")
    if not 0 < top_p <= 1:
        raise SeethinkError(f"--top-p must be in (0, 1], got {top_p}")
    files = [split_file(src, None if src.is_file() else split) for src in find_datasets(data, split).values()]
    loaded = {f: load_records(f) for f in files}  # every file is checked before the model is loaded
    model, processor = load_generator(model_path, engine, seed=seed)
    return [
        passk_file(
            model, processor, f, k, chunk, temperature, max_new_tokens, seed, str(model_path), recs, top_p, top_k
        )
        for f, recs in loaded.items()
    ]
