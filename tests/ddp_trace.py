"""Run `seethink` under torchrun with every training step's inputs traced: each process appends, per loss
computation, its rank, the global step and whether its inputs held images to `$SEETHINK_TRACE/rank<r>.jsonl`.
Used by tests/test_scale_out.py to show what each process trains on in a step."""

import json
import os
import sys
from pathlib import Path

import trl

from seethink.cli import main

TRACE = Path(os.environ["SEETHINK_TRACE"])
RANK = int(os.environ.get("RANK", "0"))


def traced(cls):
    original = cls.compute_loss

    def compute_loss(self, model, inputs, *args, **kw):
        row = {
            "rank": RANK,
            "step": self.state.global_step,
            "images": "pixel_values" in inputs and inputs["pixel_values"] is not None,
            "trainer": cls.__name__,
        }
        with open(TRACE / f"rank{RANK}.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        return original(self, model, inputs, *args, **kw)

    cls.compute_loss = compute_loss


traced(trl.GRPOTrainer)
traced(trl.SFTTrainer)
sys.exit(main(sys.argv[1:]))
