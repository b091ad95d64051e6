"""Where a recipe's model and data are: a local folder, or the offline miniature's built-in names.

`model: base` is the tiny base shipped in `seethink.miniature`; `data: world` is the synthetic world of the
recipe's seed, built once under the recipe's output folder. This module is the one place outside
`seethink.miniature` that imports it (the command line's own `world` and `pretrain` verbs aside; tested), so the
method -- records, rewards, recipes, models, training, evaluation -- runs unchanged on real models and data.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from seethink.errors import SeethinkError
from seethink.fileio import ensure_dir, held_lock
from seethink.miniature.base import base_path
from seethink.miniature.world import OPTIONAL_DATASETS
from seethink.miniature.world.build import DEFAULT_SIZES, add_datasets, build_world
from seethink.miniature.world.generate import world_config
from seethink.train.dist import on_main, say

BUILTIN_MODEL = "base"
BUILTIN_DATA = "world"


def model_path(model: str | None) -> Path:
    """A model folder; `base` or None is the shipped base."""
    return base_path() if model in (None, BUILTIN_MODEL) else Path(model)


def data_root(data: str, seed: int = 0, output_dir: str | Path = "runs", optional: tuple[str, ...] = ()) -> Path:
    """The data root of a recipe: a folder, or for `world` the built-in world of `seed` under `output_dir` (with
    the `optional` datasets of the world it names, e.g. `image_pairs`)."""
    if data != BUILTIN_DATA:
        root = Path(data)
        if not root.is_dir():
            raise SeethinkError(f"recipe data folder {root} does not exist")
        return root
    return builtin_world(Path(output_dir) / f"world-seed{seed}", seed, optional)


def builtin_world(root: Path, seed: int = 0, optional: tuple[str, ...] = ()) -> Path:
    """The built-in world of `seed` at `root`, built there once by the main process, and any of the world's optional
    datasets named in `optional` added to it once. Runs started together on one output folder take turns through a
    lock file: the later ones find it built."""
    missing = [d for d in optional if not (root / d).is_dir()]
    if not (root / "world.json").is_file() or missing:
        say(f"building the built-in world at {root} (once){' with ' + ', '.join(missing) if missing else ''}")
        on_main(_build_once, root, seed, tuple(missing))
    return root


def _build_once(root: Path, seed: int, optional: tuple[str, ...] = ()) -> None:
    with held_lock(ensure_dir(root.parent) / f".{root.name}.lock"):
        if not (root / "world.json").is_file():
            build_world(root, seed, DEFAULT_SIZES)
        if missing := tuple(d for d in optional if not (root / d).is_dir()):
            add_datasets(root, missing)


def recipe_paths(recipe) -> tuple[Path, Path]:
    """(starting model, data root) of a recipe (`seethink.recipe.Recipe`)."""
    named = {d.path for s in recipe.stages for d in s.data} | set(recipe.eval.datasets)
    optional = tuple(d for d in OPTIONAL_DATASETS if d in named)
    return model_path(recipe.model), data_root(recipe.data, recipe.seed, recipe.output_dir, optional)


def own_world(world: Path, seed: int, sizes: dict, settings: dict) -> Path:
    """A world of its own seed, split sizes (over the built-in's) and `WorldConfig` settings (a study's), built once
    (a second process waits on the lock, then finds it); one already there must have been built with the same."""
    sizes, cfg = {**DEFAULT_SIZES, **sizes}, world_config(settings)
    with held_lock(ensure_dir(world.parent) / f".{world.name}.lock"):
        if not (world / "world.json").is_file():
            print(f"building the study's world at {world} (once)")
            build_world(world, seed, sizes, cfg)
    meta = json.loads((world / "world.json").read_text())
    want = {"seed": seed, "sizes": sizes, "config": json.loads(json.dumps(asdict(cfg)))}
    if {k: meta.get(k) for k in want} != want:
        raise SeethinkError(
            f"{world}: built with other settings than the study's world_seed, world and world_sizes "
            f"({ {k: meta.get(k) for k in want} }); move it away, or use the settings it was built with"
        )
    return world
