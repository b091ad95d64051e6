"""`seethink world build`: write the world's splits to disk as JSONL + PNG, one folder per capability.

Layout (each folder is self-contained; image paths are relative to it):
    OUT/world.json                         settings, seed, sizes, schema version
    OUT/<capability>/<split>.jsonl         records (see seethink.records.schema)
    OUT/<capability>/images/<split>/*.png
Capabilities: perception, text_reasoning, visual_reasoning, plus `captions` (image → dense caption, for
caption SFT and base pretraining). Each capability folder is built in a temporary folder and renamed into
place, so an interrupted build leaves no partial folder; a rerun rebuilds byte-identical files.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from seethink import __version__
from seethink.errors import SeethinkError
from seethink.fileio import atomic_dir, check_owned, ensure_dir, write_json, write_jsonl
from seethink.miniature.world import DATASETS
from seethink.miniature.world.generate import WorldConfig, generate
from seethink.miniature.world.scene import png_bytes
from seethink.progress import progress_bar
from seethink.records.schema import SPLITS

DEFAULT_SIZES = {"train": 2000, "validation": 500, "test": 1000}  # also the built-in world of every recipe
SCHEMA_VERSION = 1
MARKER = ".seethink-world"  # a world being built (world.json comes last): a rerun may resume and replace it


def build_world(
    out: str | Path,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    cfg: WorldConfig = WorldConfig(),
    datasets=DATASETS,
) -> Path:
    out = ensure_dir(check_owned(out, ("world.json", MARKER), "seethink world build"))  # never the user's folder
    (out / MARKER).touch()  # before any dataset: an interrupted build is still this command's to resume
    datasets = tuple(dict.fromkeys(datasets))
    _check_no_stale_datasets(out, datasets)
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    total = sum(sizes[s] for s in SPLITS) * len(datasets)
    with progress_bar() as progress:
        task = progress.add_task("building world", total=total)
        for name in datasets:
            with atomic_dir(out / name) as tmp:
                for split in SPLITS:
                    rows = []
                    img_dir = tmp / "images" / split
                    img_dir.mkdir(parents=True, exist_ok=True)
                    for g in generate(name, split, sizes[split], seed, cfg):
                        rec, images = g.record, g.images
                        rec["images"] = (
                            [f"images/{split}/{rec['id']}.png"]
                            if len(images) == 1
                            else [f"images/{split}/{rec['id']}-{k}.png" for k in range(len(images))]
                        )
                        for rel, image in zip(rec["images"], images):
                            # a plain write: `tmp` is private and renamed into place whole. write_bytes'
                            # per-file atomicity lists the folder for stale temporaries on every call,
                            # which made a build quadratic in its size
                            (tmp / rel).write_bytes(png_bytes(image))
                        rows.append(rec)
                        progress.advance(task)
                    write_jsonl(tmp / f"{split}.jsonl", rows)
    write_json(
        out / "world.json",
        {
            "seed": seed,
            "sizes": sizes,
            "config": asdict(cfg),
            "datasets": list(datasets),
            "schema_version": SCHEMA_VERSION,
            "seethink_version": __version__,
        },
    )
    (out / MARKER).unlink(missing_ok=True)  # world.json marks the folder from now on
    return out


def add_datasets(root: str | Path, datasets: tuple[str, ...]) -> Path:
    """Add datasets (e.g. the optional `image_pairs`) to an existing world, with its seed, sizes and settings; the
    datasets already there stay as they are (each dataset's records depend only on those)."""
    root = Path(root)
    meta = json.loads((root / "world.json").read_text())
    new = tuple(d for d in datasets if d not in meta["datasets"])
    if not new:
        return root
    with tempfile.TemporaryDirectory(prefix=".add-", dir=root) as tmp:
        build_world(tmp, meta["seed"], meta["sizes"], read_world_config(root), new)
        for d in new:
            os.replace(Path(tmp) / d, root / d)
    write_json(root / "world.json", {**meta, "datasets": meta["datasets"] + list(new)})
    return root


def _check_no_stale_datasets(out: Path, datasets: tuple[str, ...]) -> None:
    """Rebuilding only some datasets of an existing world would leave the others from another seed or size."""
    meta = out / "world.json"
    if not meta.is_file():
        return
    try:
        previous = json.loads(meta.read_text()).get("datasets", [])
    except (ValueError, AttributeError):
        raise SeethinkError(f"{meta} is not a world description; build into a new folder") from None
    others = [d for d in previous if d not in datasets]
    if others:
        raise SeethinkError(
            f"{out} holds a world with {', '.join(others)} too, which this build would not rewrite; "
            "build into a new folder, or rebuild all its datasets"
        )


def read_world_config(root: str | Path) -> WorldConfig:
    meta = json.loads((Path(root) / "world.json").read_text())
    return WorldConfig(**meta["config"])
