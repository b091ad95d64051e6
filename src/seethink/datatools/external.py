"""Rows from outside seethink: local JSONL/JSON/parquet files, Hugging Face dataset folders, hub names.

Foreign rows are plain dicts in someone else's schema; `seethink.datatools.paper` and `seethink.datatools.synth` map
them to records. Images in foreign rows come as paths (relative to the file), HF `Image` features
(`{"bytes", "path"}`), PIL images or lists of those; `image_files` writes the embedded ones out as PNG files,
because seethink records reference images by path.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from seethink.errors import SeethinkError
from seethink.fileio import write_bytes
from seethink.records.io import checked_size, read_file_rows

HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def read_rows(src: str | Path, split: str = "train") -> tuple[list[tuple[str, dict]], Path]:
    """[(where, row)] and the folder that relative image paths start from.

    `src` is a .jsonl/.json/.parquet file; a folder saved with `datasets.Dataset(Dict).save_to_disk`; a folder
    of such files (a hub snapshot: files whose name starts with or sits under `split`); or, when no such path
    exists, a hub dataset name (needs a network). Every row is an object (a mapping); anything else is an error."""
    rows, base = _rows(src, split)
    for where, row in rows:
        if not isinstance(row, dict):
            raise SeethinkError(f"{where}: expected an object, got {type(row).__name__}")
    return rows, base


def _rows(src: str | Path, split: str) -> tuple[list[tuple[str, object]], Path]:
    p = Path(src)
    if p.is_file():
        return read_file_rows(p), p.parent
    if p.is_dir():
        if (p / "dataset_info.json").is_file() or (p / "dataset_dict.json").is_file():
            return _read_saved(p, split), p
        files = sorted(
            f
            for f in p.rglob("*")
            if f.suffix in (".jsonl", ".json", ".parquet")
            and f.is_file()
            and _in_split(f.relative_to(p), split)
            and f.name != "dataset_info.json"
        )
        if not files:
            raise SeethinkError(f"{p}: no {split} split (.jsonl/.json/.parquet files named or under '{split}')")
        return [row for f in files for row in read_file_rows(f)], p
    if HUB_NAME.match(str(src)):
        return _read_hub(str(src), split), Path.cwd()
    raise SeethinkError(f"{src}: no such file or folder")


def first_field(row: dict, keys: tuple[str, ...]) -> tuple[str | None, object]:
    """(key, value) of the first of `keys` the row fills (not None, "" or []), else (None, None)."""
    for k in keys:
        if row.get(k) not in (None, "", []):
            return k, row[k]
    return None, None


def _in_split(rel: Path, split: str) -> bool:
    names = {split, "val"} if split == "validation" else {split}  # the paper's scripts write val_*.jsonl
    parts = [rel.stem, *rel.parts[:-1]]
    return any(q == n or q.startswith(f"{n}-") or q.startswith(f"{n}_") for q in parts for n in names)


def _read_saved(p: Path, split: str) -> list[tuple[str, dict]]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(p))
    except Exception as e:  # datasets raises FileNotFoundError, ValueError, pyarrow errors …
        raise SeethinkError(f"{p}: not a readable saved dataset ({str(e).splitlines()[0]})") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise SeethinkError(f"{p}: no split {split!r} (has {', '.join(ds)})")
        ds = ds[split]
    return [(f"{p}: {split} row {i}", r) for i, r in enumerate(_plain(ds))]


def _read_hub(name: str, split: str) -> list[tuple[str, dict]]:
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # offline, unknown name, missing split …
        raise SeethinkError(f"{name}: cannot load from the Hugging Face hub ({str(e).splitlines()[0]})") from None
    return [(f"{name}: {split} row {i}", r) for i, r in enumerate(_plain(ds))]


def _plain(ds):
    """Rows with images as {"bytes", "path"} dicts rather than decoded PIL images."""
    import datasets

    for col, feat in ds.features.items():
        if isinstance(feat, datasets.Image):
            ds = ds.cast_column(col, datasets.Image(decode=False))
        elif isinstance(feat, datasets.List) and isinstance(feat.feature, datasets.Image):
            ds = ds.cast_column(col, datasets.List(datasets.Image(decode=False)))
    return ds


def image_files(value, base: Path, images_dir: Path, where: str, field: str) -> list[str]:
    """The images of one row as file paths: paths are resolved against `base` and must exist; embedded images
    are written once to `images_dir/<sha256>.png` (same bytes, same file)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            path = Path(item) if Path(item).is_absolute() else base / item
            if not path.is_file():
                raise SeethinkError(f"{where}: field '{field}': image file {path} does not exist")
            out.append(str(path.resolve()))
        elif isinstance(item, dict) and (item.get("bytes") or item.get("path")):
            if item.get("bytes"):
                out.append(_write_png(item["bytes"], images_dir, where, field))
            else:
                out += image_files(item["path"], base, images_dir, where, field)
        elif hasattr(item, "save"):  # a PIL image
            buf = io.BytesIO()
            item.save(buf, format="PNG")
            out.append(_write_png(buf.getvalue(), images_dir, where, field))
        else:
            raise SeethinkError(f"{where}: field '{field}': expected image paths or images, got {type(item).__name__}")
    return out


def _write_png(data: bytes, images_dir: Path, where: str, field: str) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            checked_size(im, f"{where}: field '{field}': embedded image")
            im.load()
            if im.format != "PNG":
                buf = io.BytesIO()
                im.convert("RGB").save(buf, format="PNG")
                data = buf.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise SeethinkError(f"{where}: field '{field}': embedded image is corrupt or too large ({e})") from None
    path = images_dir / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if not path.is_file():
        images_dir.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)
    return str(path.resolve())


def relative_to(path: str, folder: Path) -> str:
    """A path inside the output folder is stored relative to it, so the folder can be moved as a whole."""
    p, f = Path(path), folder.resolve()
    return str(p.relative_to(f)) if p.is_relative_to(f) else path
