"""A study's fixed world: the built-in one of its seed, or one of its own settings (`Study.world`,
`Study.world_sizes`), built once, with the base's pass rates on its train splits where a curriculum orders by
difficulty."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from seethink.configs import FieldError, did_you_mean, require
from seethink.errors import SeethinkError
from seethink.fileio import ensure_dir, held_lock
from seethink.records.io import load_records
from seethink.records.schema import CAPABILITIES


def world_config(world: dict):
    """The `WorldConfig` of a study's `world` settings; unknown keys and bad values are one line naming them."""
    from seethink.miniature.world.generate import WorldConfig

    known = [f.name for f in fields(WorldConfig)]
    for key in world:
        require(key in known, f"world.{key}", "unknown key" + did_you_mean(key, known))
    try:
        return WorldConfig(**world)
    except SeethinkError as e:
        raise FieldError("world", str(e).removeprefix("world: ")) from None


def prepare_world(study, world: Path, base: Path, needs_pass_rates: bool) -> Path:
    """The fixed world (built once unless given), with pass rates on its train splits if a configuration needs them."""
    from seethink.eval.passk import passk
    from seethink.resolve import builtin_world

    if study.world or study.world_sizes:
        _own_world(study, world)
    else:
        builtin_world(world, study.world_seed)
    if not all((world / c).is_dir() for c in CAPABILITIES):
        raise SeethinkError(f"{world}: not a world folder (needs {', '.join(CAPABILITIES)}/)")
    if not needs_pass_rates:
        return world
    with held_lock(world.parent / f".{world.name}.passk.lock"):  # a second study process waits, then finds them
        if any(load_records(world / c, "train", check_images=False)[0]["pass_rate"] is None for c in CAPABILITIES):
            print(f"pass@{study.passk_k} of the base on every train record (for the difficulty curricula)")
            passk(base, world, "train", study.passk_k, chunk=32, max_new_tokens=64)
    return world


def _own_world(study, world: Path) -> None:
    """A study world of its own settings, built once (a second process waits on the lock, then finds it); one
    already there must have been built with the same seed, sizes and settings."""
    from seethink.miniature.world.build import DEFAULT_SIZES, build_world

    sizes, cfg = {**DEFAULT_SIZES, **study.world_sizes}, world_config(study.world)
    with held_lock(ensure_dir(world.parent) / f".{world.name}.lock"):
        if not (world / "world.json").is_file():
            print(f"building the study's world at {world} (once)")
            build_world(world, study.world_seed, sizes, cfg)
    meta = json.loads((world / "world.json").read_text())
    want = {"seed": study.world_seed, "sizes": sizes, "config": json.loads(json.dumps(asdict(cfg)))}
    if {k: meta.get(k) for k in want} != want:
        raise SeethinkError(
            f"{world}: built with other settings than the study's world_seed, world and world_sizes "
            f"({ {k: meta.get(k) for k in want} }); move it away, or use the settings it was built with"
        )
