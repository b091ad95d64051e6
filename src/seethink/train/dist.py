"""Multi-process runs (`accelerate launch`, `torchrun`): who writes, and where the processes wait.

TRL and accelerate distribute the training itself (DDP, DeepSpeed ZeRO, FSDP). Everything seethink writes on
its own -- the built-in world, the run folder, held-out evaluations, the final checkpoint of a stage -- is
written by the main process while the others wait at a barrier. In a single process all of this is a no-op.
"""

from __future__ import annotations

import os
from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def init(timeout_minutes: int) -> None:
    """Start the process group (once, before anything else asks for it) with this timeout for every collective:
    a barrier or gather that waits longer fails the run instead of hanging it (`hardware.process_timeout_minutes`).
    The Trainer then finds the group started and keeps it."""
    import datetime

    from accelerate import PartialState

    cpu = not torch.cuda.is_available()
    PartialState(cpu=cpu, timeout=datetime.timedelta(minutes=timeout_minutes))
    if cpu and os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" and "LOCAL_RANK" in os.environ:
        # accelerate starts DeepSpeed's comm layer on GPUs only; on CPU (DeepSpeed's CPU path, the tests) start it
        # here as accelerate does on GPUs, or zero.Init (TRL's reference model) sees one process instead of all
        from deepspeed import comm

        if not comm.is_initialized():
            comm.init_distributed(
                dist_backend="gloo", auto_mpi_discovery=False, timeout=datetime.timedelta(minutes=timeout_minutes)
            )


def state():
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())  # the Trainer's own state agrees (use_cpu on CPU)


def shards():
    """This process's share of an evaluation run by all processes (`seethink.eval.evaluate.Shards`)."""
    from seethink.eval.evaluate import Shards

    st = state()
    if st.num_processes == 1:
        return Shards()
    from accelerate.utils import gather_object

    return Shards(st.process_index, st.num_processes, gather_object)


def is_main() -> bool:
    return state().is_main_process


def wait() -> None:
    state().wait_for_everyone()


def on_main(fn: Callable[..., T], *args, **kw) -> T | None:
    """Run `fn` on the main process only; every process returns after it finished."""
    result = fn(*args, **kw) if is_main() else None
    wait()
    return result


def from_main(fn: Callable[..., T], *args, **kw) -> T:
    """`fn` run on the main process, its result on every process (one process: just `fn`). For decisions every
    process must take alike, such as whether an evaluation is already on disk."""
    if state().num_processes == 1:
        return fn(*args, **kw)
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([fn(*args, **kw) if is_main() else None])[0]


def say(*args, **kw) -> None:
    """print, on the main process only."""
    if is_main():
        print(*args, **kw)
