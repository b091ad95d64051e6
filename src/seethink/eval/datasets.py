"""Find the datasets to evaluate under a path: a world folder, one dataset folder, or one file."""

from __future__ import annotations

from pathlib import Path

from seethink.errors import SeethinkError
from seethink.records.io import load_records
from seethink.records.schema import CAPABILITIES, SPLITS


def find_datasets(path: str | Path, split: str) -> dict[str, Path]:
    """{name: folder-or-file}; a world root yields its three capability folders."""
    p = Path(path)
    if not p.exists():
        raise SeethinkError(f"data path {p} does not exist")
    if p.is_file():
        return {p.stem: p}
    subs = {name: p / name for name in CAPABILITIES if (p / name).is_dir()}
    if subs:
        return subs
    if any((p / f"{s}.{e}").exists() for s in SPLITS for e in ("jsonl", "parquet")):
        return {p.name: p}
    raise SeethinkError(
        f"{p}: no datasets found (expected {split}.jsonl, or perception/ text_reasoning/ visual_reasoning/)"
    )


def load_split(source: Path, split: str, limit: int | None = None) -> list[dict]:
    recs = load_records(source, None if source.is_file() else split)
    return recs[:limit] if limit else recs


def load_train_for_priors(source: Path) -> list[dict] | None:
    """The train split next to an evaluated split, for answer-prior baselines (None if there is none)."""
    if source.is_dir() and any((source / f"train.{e}").exists() for e in ("jsonl", "parquet")):
        return load_records(source, "train", check_images=False)
    return None
