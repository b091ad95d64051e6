"""A study's fixed world: the built-in one of its seed, or one of its own settings (`Study.world`,
`Study.world_sizes`), built once, with the base's pass rates on its train splits where a curriculum orders by
difficulty."""

from __future__ import annotations

from pathlib import Path

from seethink.errors import SeethinkError
from seethink.fileio import held_lock
from seethink.records.io import load_records
from seethink.records.schema import CAPABILITIES


def prepare_world(study, world: Path, base: Path, needs_pass_rates: bool) -> Path:
    """The fixed world (built once unless given), with pass rates on its train splits if a configuration needs them."""
    from seethink.eval.passk import passk
    from seethink.resolve import builtin_world, own_world

    if study.world or study.world_sizes:
        own_world(world, study.world_seed, study.world_sizes, study.world)
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
