"""In-run checkpoints (`checkpoint-N` folders a Trainer writes): which one to resume from, and which are damaged.

A kill can only leave a checkpoint without its `trainer_state.json` (the Trainer writes it last), and such a
folder is never resumed. A checkpoint can still be damaged after it was complete: a disk that filled up under
a later write, a copy cut short, a hand edit. Resuming from it would crash deep inside torch, or worse, resume
silently from wrong weights; so each candidate is checked, newest first, and a damaged one is set aside.
"""

from __future__ import annotations

import json
import struct
import sys
import zipfile
from pathlib import Path

DAMAGED_PREFIX = "damaged-"
"""A damaged checkpoint is renamed `damaged-checkpoint-N` (kept for inspection; the work folder goes when the
stage or pretraining finishes)."""


def _numbered(work: Path) -> list[Path]:
    found = [c for c in work.glob("checkpoint-*") if c.name[11:].isdigit() and c.is_dir()]
    return sorted(found, key=lambda c: int(c.name[11:]), reverse=True)


def safetensors_problem(f: Path) -> str | None:
    """A safetensors file whose header does not parse, or that is shorter or longer than its header says."""
    try:
        with open(f, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError, MemoryError, OverflowError):
        return f"{f.name} is not a readable safetensors file"
    if f.stat().st_size != 8 + n + end:
        return f"{f.name} is truncated ({f.stat().st_size:,} of {8 + n + end:,} bytes)"
    return None


def checkpoint_problem(c: Path) -> str | None:
    """Why the in-run checkpoint `c` cannot be resumed from, or None if it is complete and readable."""
    try:
        state = json.loads((c / "trainer_state.json").read_text())
        if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
            return "trainer_state.json has no global_step"
    except FileNotFoundError:
        return "no trainer_state.json (it was being written)"
    except (ValueError, UnicodeDecodeError):
        return "trainer_state.json is not valid JSON"
    weights = sorted(c.glob("*.safetensors"))
    if not weights:
        return "no weights (*.safetensors)"
    for f in weights:
        if problem := safetensors_problem(f):
            return problem
    for name in ("optimizer.pt", "scheduler.pt"):
        f = c / name
        if not f.is_file():
            return f"no {name}"
        try:
            with zipfile.ZipFile(f) as z:  # torch.save writes a zip archive; testzip checks every member's CRC
                if z.testzip() is not None:
                    return f"{name} is corrupt"
        except (zipfile.BadZipFile, OSError, EOFError):
            return f"{name} is truncated or not a torch checkpoint"
    return None


def last_checkpoint(work: str | Path, set_aside: bool = True, label: str = "") -> Path | None:
    """The newest complete, readable `checkpoint-N` a Trainer left in `work`.

    Newer checkpoints that are damaged are skipped; with `set_aside` (only the process that writes passes it) each
    is named in one line on stderr and renamed `damaged-checkpoint-N`, so the Trainer's rotation never keeps
    them over a new good one. Folders without `trainer_state.json` are a kill's leftovers and skipped quietly.

    Resume must load the weights from the returned checkpoint itself: transformers 5.23's Trainer restores
    optimizer, scheduler and RNG from a checkpoint, but loads its weights with `load_state_dict(strict=False)`
    without the key renaming that models such as LLaVA and Qwen-VL save with -- so nothing matches and the
    weights silently stay at the start (transformers#43701)."""
    for c in _numbered(Path(work)):
        problem = checkpoint_problem(c)
        if problem is None:
            return c
        if not (c / "trainer_state.json").is_file():
            continue  # an unfinished save, not damage
        if set_aside:
            print(f"{label}in-run checkpoint {c} is damaged ({problem}); set aside, resuming from the one before it "
                  "or from the start", file=sys.stderr)
            c.rename(c.with_name(DAMAGED_PREFIX + c.name))
    return None


def drop_unfinished(work: str | Path) -> None:
    """Remove the `checkpoint-N` folders in `work` that have no `trainer_state.json`: a save that failed (a full
    disk) or was killed. Never resumed from anyway; removed so that no half-written folder stays behind."""
    import shutil

    for c in _numbered(Path(work)):
        if not (c / "trainer_state.json").is_file():
            shutil.rmtree(c, ignore_errors=True)
