"""In-run checkpoints (`checkpoint-N` folders a Trainer writes): which one to resume from, and which are damaged.

A kill can only leave a checkpoint without its `trainer_state.json` (the Trainer writes it last), and such a
folder is never resumed. A checkpoint can still be damaged after it was complete: a disk that filled up under
a later write, a copy cut short, a hand edit. Resuming from it would crash deep inside torch, or worse, resume
silently from wrong weights; so each candidate is checked, newest first, and a damaged one is set aside.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import sys
import zipfile
from pathlib import Path

from seethink.errors import SeethinkError

DAMAGED_PREFIX = "damaged-"
"""A damaged checkpoint is renamed `damaged-checkpoint-N` (the newest one is kept for inspection; the work folder
goes when the stage or pretraining finishes)."""


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


def _torch_zip_problem(f: Path) -> str | None:
    """A `torch.save` file (a zip archive) that is missing, truncated or fails a member's CRC."""
    if not f.is_file():
        return f"no {f.name}"
    try:
        with zipfile.ZipFile(f) as z:  # torch.save writes a zip archive; testzip checks every member's CRC
            if z.testzip() is not None:
                return f"{f.name} is corrupt"
    except (zipfile.BadZipFile, OSError, EOFError):
        return f"{f.name} is truncated or not a torch checkpoint"
    return None


def saved_processes(c: Path) -> int:
    """How many processes wrote checkpoint `c` (the Trainer saves one RNG state per process)."""
    return max(1, len(list(c.glob("rng_state_*.pth"))))


def _deepspeed_problem(c: Path) -> str | None:
    """DeepSpeed: `latest` names a tag folder holding every rank's optimizer (and model) states."""
    try:
        tag = (c / "latest").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return "DeepSpeed's latest is unreadable"
    folder = c / tag
    if not tag or not folder.is_dir():
        return f"DeepSpeed's latest names {tag!r}, which is not there"
    optim = sorted(folder.glob("*optim_states.pt"))
    ranks = sorted(int(m.group(1)) for f in optim if (m := re.search(r"zero_pp_rank_(\d+)_", f.name)))
    if not optim or ranks != list(range(saved_processes(c))):
        return f"{tag}/ holds optimizer states of ranks {ranks}, not of all {saved_processes(c)} processes"
    for f in optim + sorted(folder.glob("*model_states.pt")):
        if problem := _torch_zip_problem(f):
            return f"{tag}/{problem}"
    return None


def _dcp_problem(folder: Path) -> str | None:
    """An FSDP sharded state (torch.distributed.checkpoint): a `.metadata` file and non-empty `.distcp` shards."""
    meta = folder / ".metadata"
    if not meta.is_file() or meta.stat().st_size == 0:
        return f"{folder.name}/ has no .metadata"
    shards = list(folder.glob("*.distcp"))
    if not shards or any(f.stat().st_size == 0 for f in shards):
        return f"{folder.name}/ has missing or empty shards"
    return None


def has_full_weights(c: Path) -> bool:
    """Whether checkpoint `c` holds the whole model as safetensors (not only FSDP shards or adapters)."""
    return any(f.name.startswith("model") for f in c.glob("*.safetensors"))


def checkpoint_problem(c: Path) -> str | None:
    """Why the in-run checkpoint `c` cannot be resumed from, or None if it is complete and readable. Knows the
    layouts a Trainer writes on one process or DDP (optimizer.pt), under DeepSpeed (`latest` and `global_stepN/`)
    and under FSDP's sharded state dicts (`pytorch_model_fsdp_0/`, `optimizer_0/`), and checks each for damage."""
    try:
        state = json.loads((c / "trainer_state.json").read_text())
        if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
            return "trainer_state.json has no global_step"
    except FileNotFoundError:
        return "no trainer_state.json (it was being written)"
    except (ValueError, UnicodeDecodeError):
        return "trainer_state.json is not valid JSON"
    fsdp = sorted(c.glob("pytorch_model_fsdp_*")) + sorted(c.glob("optimizer_*"))
    weights = sorted(c.glob("*.safetensors"))
    if not weights and not fsdp:
        return "no weights (*.safetensors or an FSDP sharded state)"
    for f in weights:
        if problem := safetensors_problem(f):
            return problem
    if (c / "latest").is_file():
        optimizer = _deepspeed_problem(c)
    elif fsdp:
        optimizer = next(filter(None, (_dcp_problem(d) for d in fsdp if d.is_dir())), None)
    else:
        optimizer = _torch_zip_problem(c / "optimizer.pt")
    return optimizer or _torch_zip_problem(c / "scheduler.pt")


def last_checkpoint(
    work: str | Path, set_aside: bool = True, label: str = "", processes: int | None = None
) -> Path | None:
    """The newest complete, readable `checkpoint-N` a Trainer left in `work`.

    Newer checkpoints that are damaged are skipped; with `set_aside` (only the process that writes passes it) each
    is named in one line on stderr and renamed `damaged-checkpoint-N` (the newest damaged one is kept for
    inspection, older ones are removed: a 7B checkpoint is ~100 GB). Folders without `trainer_state.json` are a
    kill's leftovers and skipped quietly. With `processes`, a checkpoint written by another number of processes
    is refused in one line: the stage's rows are laid out per process, and ZeRO states are per rank.

    Resume must load the weights from the returned checkpoint itself: transformers 5.23's Trainer restores
    optimizer, scheduler and RNG from a checkpoint, but loads its weights with `load_state_dict(strict=False)`
    without the key renaming that models such as LLaVA and Qwen-VL save with -- so nothing matches and the
    weights silently stay at the start (transformers#43701)."""
    for c in _numbered(Path(work)):
        problem = checkpoint_problem(c)
        if problem is None:
            if processes is not None and saved_processes(c) != processes:
                raise SeethinkError(
                    f"{label}in-run checkpoint {c} was written by {saved_processes(c)} processes and "
                    f"this run has {processes}: relaunch with {saved_processes(c)}, or remove {c.parent} "
                    "to restart the stage"
                )
            return c
        if not (c / "trainer_state.json").is_file():
            continue  # an unfinished save, not damage
        if set_aside:
            print(
                f"{label}in-run checkpoint {c} is damaged ({problem}); set aside, resuming from the one before it "
                "or from the start",
                file=sys.stderr,
            )
            for old in c.parent.glob(DAMAGED_PREFIX + "checkpoint-*"):
                shutil.rmtree(old, ignore_errors=True)
            c.rename(c.with_name(DAMAGED_PREFIX + c.name))
    return None


def drop_unfinished(work: str | Path) -> None:
    """Remove the `checkpoint-N` folders in `work` that have no `trainer_state.json`: a save that failed (a full
    disk) or was killed. Never resumed from anyway; removed so that no half-written folder stays behind."""
    for c in _numbered(Path(work)):
        if not (c / "trainer_state.json").is_file():
            shutil.rmtree(c, ignore_errors=True)
