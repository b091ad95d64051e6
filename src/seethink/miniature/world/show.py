"""`seethink world show`: print a few records and save a contact sheet PNG a person can look at."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image, ImageDraw

from seethink.fileio import atomic_path
from seethink.records.io import load_image

TILE, TEXT_H, WRAP = 256, 150, 40


def contact_sheet(records: list[dict], out: str | Path) -> Path:
    """Each record's image upscaled (nearest neighbour, so pixels stay honest) above its question and answer."""
    sheet = Image.new("RGB", (TILE * len(records), TILE + TEXT_H), "white")
    draw = ImageDraw.Draw(sheet)
    for i, r in enumerate(records):
        if r["images"]:
            sheet.paste(load_image(r["images"][0]).resize((TILE, TILE), Image.NEAREST), (i * TILE, 0))
        lines = []
        for para in f"{r['problem']}\nanswer: {r['answer']}".splitlines():
            lines += textwrap.wrap(para, WRAP) or [""]
        draw.multiline_text((i * TILE + 4, TILE + 4), "\n".join(lines[:12]), fill="black", spacing=2)
    out = Path(out)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
