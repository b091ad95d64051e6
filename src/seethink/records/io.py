"""Load records from JSONL or parquet files (or a folder of `<split>.jsonl`), and images from disk.

Image paths in a file are relative to that file's folder; loaded records carry absolute paths.
Every problem is reported as one line naming the file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from seethink.errors import SeethinkError
from seethink.fileio import read_json, read_text
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
    if f.suffix == ".json":
        data = read_json(f, "data file")
        if not isinstance(data, list):
            raise SeethinkError(f"{f}: expected a JSON list of rows, got {type(data).__name__}")
        return [(f"{f}: item {i}", r) for i, r in enumerate(data)]
    rows = []
    for n, line in enumerate(read_text(f, "data file").splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"{f}:{n}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise SeethinkError(f"{f}:{n}: malformed JSON ({e.msg})") from None
            except ValueError as e:  # an integer past Python's 4,300-digit conversion limit
                raise SeethinkError(f"{f}:{n}: unreadable JSON ({e})") from None
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


MAX_IMAGE_PIXELS = 64_000_000
"""Larger images are refused before they are decoded (a PNG header can claim 20000 × 20000: 1.2 GB of RGB from a
file of a few KB). VLM processors resize to about a megapixel; an 8000 × 8000 photograph still fits."""


def checked_size(im: Image.Image, where: str) -> tuple[int, int]:
    w, h = im.size
    if w * h > MAX_IMAGE_PIXELS:
        raise SeethinkError(f"{where}: {w} × {h} pixels; the limit is {MAX_IMAGE_PIXELS:,} pixels")
    return w, h


def _open_error(path, e: BaseException) -> SeethinkError:
    if isinstance(e, FileNotFoundError):
        return SeethinkError(f"image file {path} does not exist")
    if isinstance(e, Image.DecompressionBombError):
        return SeethinkError(f"image file {path}: {e}")
    return SeethinkError(f"image file {path} is corrupt or truncated ({e})")


def load_image(path: str) -> Image.Image:
    """Open an image as RGB, with a one-line error for missing, truncated, corrupt or oversized files."""
    try:
        with Image.open(path) as im:
            checked_size(im, f"image file {path}")
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise _open_error(path, e) from None


def image_size(path: str) -> tuple[int, int]:
    """(width, height) from the file's header, checked against the bound, without decoding the pixels."""
    try:
        with Image.open(path) as im:
            return checked_size(im, f"image file {path}")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise _open_error(path, e) from None
