"""Multi-process runs (`accelerate launch`, `torchrun`): who writes, and where the processes wait.

TRL and accelerate distribute the training itself (DDP, DeepSpeed ZeRO, FSDP). Everything seethink writes on
its own -- the built-in world, the run folder, held-out evaluations, the final checkpoint of a stage -- is
written by the main process while the others wait at a barrier. In a single process all of this is a no-op.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def state():
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())  # the Trainer's own state agrees (use_cpu on CPU)


def is_main() -> bool:
    return state().is_main_process


def wait() -> None:
    state().wait_for_everyone()


def on_main(fn: Callable[..., T], *args, **kw) -> T | None:
    """Run `fn` on the main process only; every process returns after it finished."""
    result = fn(*args, **kw) if is_main() else None
    wait()
    return result


def say(*args, **kw) -> None:
    """print, on the main process only."""
    if is_main():
        print(*args, **kw)
