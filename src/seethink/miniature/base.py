"""The base checkpoint shipped inside the package (regenerate it with the command in the README)."""

from __future__ import annotations

from pathlib import Path

from seethink.errors import SeethinkError

BASE_DIR = Path(__file__).resolve().parent / "assets" / "base"


def base_path() -> Path:
    if not (BASE_DIR / "config.json").is_file():
        raise SeethinkError(
            f"the shipped base is missing at {BASE_DIR}; regenerate it with `seethink pretrain --out {BASE_DIR}`"
        )
    return BASE_DIR
