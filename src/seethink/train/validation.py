"""Held-out evaluation inside a stage (`eval.every`) and the checkpoint a stage keeps (`stages.k.keep`).

At the stage's start (step 0), every `every` optimizer steps and at its last step, every process evaluates its
share of the records on the model being trained (greedy, `every_limit` records per dataset) and logs
`val_<capability>` and `val_mean` through the Trainer's callbacks, so the rows reach metrics.jsonl and TensorBoard
like TRL's own. The evaluation leaves the run as it was:
the random number generators, the model's train/eval mode and the tokenizer's padding side are restored, so a
stage with in-stage evaluation trains exactly the weights it trains without (checked by a test).

With `keep: best:<metric>`, each evaluation that beats the best so far snapshots the weights (the LoRA adapters,
for a LoRA stage) to `work/best/`; the stage's checkpoint is then built from that snapshot instead of the last
step. A resumed stage keeps a snapshot only if it was taken at or before the step it resumes from (a later one
belongs to steps that run again).
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from seethink.errors import SeethinkError
from seethink.eval.evaluate import evaluate, summarise
from seethink.fileio import atomic_dir, write_json
from seethink.recipe import EvalSettings, keep_metric
from seethink.train.dist import is_main, shards, state
from seethink.train.engines import full_state_dict, load_full_state_dict, whole_model
from seethink.train.metrics import VALIDATION_PREFIX

BEST = "best"
WEIGHTS = "weights.safetensors"


@contextlib.contextmanager
def untouched_rng():
    """Run a block without moving Python's, NumPy's or torch's random state (CPU and CUDA)."""
    py, np_state, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def scores(summary: dict) -> dict[str, float]:
    """`val_<capability>` for each evaluated capability and `val_mean` over them."""
    accs = {f"{VALIDATION_PREFIX}{cap}": float(s["accuracy"]) for cap, s in summary["capability"].items()}
    return {**accs, f"{VALIDATION_PREFIX}mean": float(np.mean(list(accs.values())))}


def _adapter_state(model) -> dict[str, torch.Tensor] | None:
    if not hasattr(model, "peft_config"):
        return None
    from peft import get_peft_model_state_dict

    return get_peft_model_state_dict(model)


class StageValidation(TrainerCallback):
    """In-stage evaluation and the best-checkpoint snapshot of one stage; `attach(trainer)` before training."""

    def __init__(self, records: list[dict], settings: EvalSettings, keep: str, work: Path, seed: int):
        self.records, self.settings, self.seed = records, settings, seed
        self.metric = keep_metric(keep)
        self.dir = work / BEST
        self.best: dict | None = None  # {"step", "metric", "value"} of the snapshot in self.dir
        self.trainer = None

    def attach(self, trainer) -> "StageValidation":
        self.trainer = trainer
        trainer.add_callback(self)
        return self

    # --- resume, and the stage's starting point
    def on_train_begin(self, args, state, control, model=None, **kw):
        note = self.dir / "best.json"
        best = json.loads(note.read_text()) if self.metric and note.is_file() else None
        self.best = best if best and best["step"] <= state.global_step else None
        if state.global_step == 0:  # step 0: the stage's start on the same records (and a candidate to keep)
            self._check(args, state, control, model)

    # --- evaluate
    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step % self.settings.every == 0 or state.global_step == state.max_steps:
            self._check(args, state, control, model)

    def _check(self, args, state, control, model) -> None:
        step = state.global_step
        row = self._evaluate()
        logs = {**row}
        state.log_history.append({**logs, "step": step})
        self.trainer.callback_handler.on_log(args, state, control, logs=logs)
        if self.metric:
            value = row[f"{VALIDATION_PREFIX}{self.metric}"]
            if self.best is None or value > self.best["value"]:
                self._snapshot(model, {"step": step, "metric": self.metric, "value": value})

    def _evaluate(self) -> dict[str, float]:
        """Every process evaluates its share of the records on whole weights (`engines.whole_model`); the rows of
        all are gathered, so every process computes the same scores."""
        processor = self.trainer.processing_class
        tokenizer = getattr(processor, "tokenizer", processor)
        split = shards()
        mine = split.part(self.records, self.settings.batch_size)
        side = tokenizer.padding_side
        with whole_model(self.trainer) as model:
            was_training = model.training
            model.eval()
            try:
                with untouched_rng(), torch.no_grad():
                    rows, _ = evaluate(
                        model,
                        processor,
                        mine,
                        max_new_tokens=self.settings.max_new_tokens,
                        batch_size=self.settings.batch_size,
                        seed=self.seed,
                        show=False,
                    )
            finally:
                tokenizer.padding_side = side
                model.train(was_training)
        summary = summarise(split.join(rows), self.seed)
        row = scores(summary)
        if self.metric and f"{VALIDATION_PREFIX}{self.metric}" not in row:
            raise SeethinkError(
                f"keep: best:{self.metric}: the in-stage evaluation has no {self.metric} records "
                f"(it has {', '.join(summary['capability'])})"
            )
        return row

    # --- keep
    def _snapshot(self, model, best: dict) -> None:
        adapters = _adapter_state(model)
        # else gathered by every process, through the engine (sharded weights need all of them); the model's own names
        weights = adapters if adapters is not None else full_state_dict(self.trainer)
        if is_main():
            from safetensors.torch import save_file

            with atomic_dir(self.dir) as tmp:
                # cloned: tied weights share storage, which save_file refuses; load_state_dict takes both names back
                save_file({k: v.detach().cpu().clone().contiguous() for k, v in weights.items()}, str(tmp / WEIGHTS))
                write_json(tmp / "best.json", best)
        self.best = best

    def restore_best(self, model) -> dict | None:
        """Load the snapshot into `model` (the adapters of a LoRA model); returns its note, None if none was
        taken (keep last). Every process loads it: the final save may gather from all of them."""
        if not self.metric:
            return None
        if self.best is None:
            raise SeethinkError(f"keep: best:{self.metric}: no in-stage evaluation ran, nothing to keep")
        state().wait_for_everyone()  # the main process's snapshot is on disk
        from safetensors.torch import load_file

        weights = load_file(str(self.dir / WEIGHTS))
        if hasattr(model, "peft_config"):
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(model, weights)
        else:
            load_full_state_dict(self.trainer, weights)
        return self.best


def validation_records(settings: EvalSettings, root: Path) -> list[dict]:
    """The records each in-stage evaluation scores: `every_limit` per dataset of `every_split` (or `split`)."""
    from seethink.records.io import load_records

    split = settings.every_split or settings.split
    recs = []
    for name in settings.datasets:
        rows = load_records(root / name, split)
        recs += rows[: settings.every_limit] if settings.every_limit else rows
    return recs
