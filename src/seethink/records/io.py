"""Load records from JSONL or parquet files (or a folder of `<split>.jsonl`), and images from disk.

Image paths in a file are relative to that file's folder; loaded records carry absolute paths.
Every problem is reported as one line naming the file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from seethink.errors import SeethinkError
from seethink.records.schema import Record, validate_record


def split_file(path: Path, split: str | None) -> Path:
    """The file holding `split` under a dataset folder (or `path` itself if it is a file)."""
    if path.is_dir():
        if split is None:
            raise SeethinkError(f"{path} is a folder; name a split (train, validation, test) or a file")
        for ext in ("jsonl", "parquet"):
            f = path / f"{split}.{ext}"
            if f.exists():
                return f
        raise SeethinkError(f"{path}: no {split}.jsonl or {split}.parquet")
    if not path.exists():
        raise SeethinkError(f"{path}: no such file or folder")
    return path


def read_file_rows(f: Path) -> list[tuple[str, object]]:
    """[(where, row)] of a .jsonl, .json (a list of rows) or .parquet file; `where` names the file and line/row."""
    if f.suffix == ".parquet":
        import pyarrow.parquet as pq  # pyarrow only when a parquet file is read

        try:
            rows = pq.read_table(f).to_pylist()
        except Exception as e:  # pyarrow raises several types for corrupt files
            raise SeethinkError(f"{f}: not a readable parquet file ({e})") from None
        return [(f"{f}: row {i}", r) for i, r in enumerate(rows)]
    text = f.read_text(encoding="utf-8")
    if f.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SeethinkError(f"{f}: malformed JSON ({e.msg}, line {e.lineno})") from None
        if not isinstance(data, list):
            raise SeethinkError(f"{f}: expected a JSON list of rows, got {type(data).__name__}")
        return [(f"{f}: item {i}", r) for i, r in enumerate(data)]
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"{f}:{n}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise SeethinkError(f"{f}:{n}: malformed JSON ({e.msg})") from None
    return rows


def load_records(path: str | Path, split: str | None = None, check_images: bool = True) -> list[Record]:
    """Read and validate records; an empty file is an error (a run over no data would silently do nothing)."""
    f = split_file(Path(path), split)
    rows = read_file_rows(f)
    if not rows:
        raise SeethinkError(f"{f}: no records")
    out, seen = [], set()
    for where, row in rows:
        rec = validate_record(row, where)
        if rec["id"] in seen:
            raise SeethinkError(f"{where}: duplicate id {rec['id']!r}")
        seen.add(rec["id"])
        rec["images"] = [str((f.parent / p).resolve()) if not Path(p).is_absolute() else p for p in rec["images"]]
        if check_images:
            for p in rec["images"]:
                if not Path(p).is_file():
                    raise SeethinkError(f"{where}: image file {p} does not exist")
        out.append(rec)
    return out


def load_image(path: str) -> Image.Image:
    """Open an image as RGB, with a one-line error for missing, truncated or corrupt files."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise SeethinkError(f"image file {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise SeethinkError(f"image file {path} is corrupt or truncated ({e})") from None
