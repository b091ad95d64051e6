"""Run `seethink` and kill every process right after the Trainer saved its in-stage checkpoint at global step
`$SEETHINK_STOP_AT` (exit status 17): a crash at a known point, for resume tests under torchrun/accelerate
(tests/test_engines.py). Timing a SIGKILL from outside is a race a 4-step stage always wins."""

import os
import sys

import transformers
from transformers import TrainerCallback

from seethink.cli import main

STOP_AT = int(os.environ["SEETHINK_STOP_AT"])


class StopAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kw):
        if state.global_step == STOP_AT:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.barrier()  # every process has finished writing its part of the checkpoint
            os._exit(17)


original = transformers.Trainer.__init__


def init(self, *a, **kw):
    original(self, *a, **kw)
    self.add_callback(StopAfterSave())


transformers.Trainer.__init__ = init
sys.exit(main(sys.argv[1:]))
