"""Per-step training metrics as `metrics.jsonl`, in the same names for GRPO and SFT stages (TRL's log keys -> our
columns: each algorithm's `log_keys`, seethink.algorithms)."""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from seethink.fileio import read_jsonl, write_jsonl
from seethink.train.dist import is_main

VALIDATION_PREFIX = "val_"  # in-stage held-out accuracy (seethink.train.validation), kept as logged


def renamed(logs: dict | None, keys: dict[str, str]) -> dict:
    """The values of a Trainer log that `keys` (TRL's name -> ours) names, under our names."""
    return {ours: logs[theirs] for theirs, ours in keys.items() if theirs in (logs or {})}


class StepLog(TrainerCallback):
    """A JSONL file of rows keyed by `step`, always rewritten whole and atomically; a resumed stage drops the
    rows past its resume step (they belong to steps that will be run again).

    Rewriting on every step would cost O(steps²) over a stage (82 ms per write at 6,000 rows), so new rows are
    written at most every `flush_every` seconds, when the Trainer logs a step it is about to checkpoint (it logs
    before it saves, so the rows are on disk before the checkpoint is), at each save (a fallback for steps it
    does not log) and at the end of training. The rows a kill can lose are therefore only those past the last
    checkpoint, which the resumed stage runs again.
    """

    def __init__(self, path: Path, flush_every: float = 10.0):
        self.path, self.flush_every = path, flush_every
        self.rows = read_jsonl(path, "metrics file") if path.exists() else []  # a torn last line: dropped
        self._dirty = False
        self._last_flush = float("-inf")  # the first rows are written at once: the file shows up early

    def on_train_begin(self, args, state, control, **kw):
        kept = [r for r in self.rows if r["step"] <= state.global_step]
        self._dirty |= len(kept) != len(self.rows)
        self.rows = kept

    def add(self, rows: list[dict]) -> None:
        self.rows += rows
        self._dirty = True
        if time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if self._dirty and is_main():  # in a multi-process run every process logs the same rows; one writes them
            write_jsonl(self.path, self.rows)
        self._dirty = False

    def on_log(self, args, state, control, **kw):
        if control is not None and control.should_save:
            self.flush()

    def on_save(self, args, state, control, **kw):
        self.flush()

    def on_train_end(self, args, state, control, **kw):
        self.flush()


class MetricsWriter(StepLog):
    """`metrics.jsonl`: one row of our metric names per logged step."""

    def __init__(self, path: Path, keys: dict[str, str], flush_every: float = 10.0):
        super().__init__(path, flush_every)
        self.keys = keys

    def on_log(self, args, state, control, logs=None, **kw):
        row = {ours: float(v) for ours, v in renamed(logs, self.keys).items()}
        row.update({k: float(v) for k, v in (logs or {}).items() if k.startswith(VALIDATION_PREFIX)})
        measured = row.keys() - {"epoch"}  # the Trainer's end-of-training summary has only an epoch of ours
        if len(measured) > 1 or (measured and "loss" not in measured):
            self.add([{"step": state.global_step, **row}])
        super().on_log(args, state, control, **kw)  # the flush comes after this step's row


# shown beside a stage's progress bar, in this order: our column -> short label
POSTFIX = {"reward": "reward", "accuracy": "acc", "completion_length": "len", "loss": "loss"}


class StageProgress(ProgressCallback):
    """The Trainer's progress bar with the stage's reward, accuracy and completion length as its postfix,
    instead of transformers' one printed dict of every logged value per step (metrics.jsonl keeps those)."""

    def __init__(self, keys: dict[str, str]):
        super().__init__()
        self.keys = keys

    def on_log(self, args, state, control, logs=None, **kw):
        if not (state.is_world_process_zero and self.training_bar is not None and logs):
            return
        ours = renamed(logs, self.keys)
        shown = {label: f"{float(ours[k]):.3g}" for k, label in POSTFIX.items() if k in ours}
        if "reward" in ours:
            shown.pop("loss", None)  # a GRPO loss is near zero by construction; the reward says more
        if shown:
            self.training_bar.set_postfix(shown, refresh=False)


class NonFiniteGuard(TrainerCallback):
    """Stop a stage whose loss or gradient norm became NaN or inf; the caller keeps the last good checkpoint.

    Needs `logging_nan_inf_filter=False`: by default transformers logs a non-finite loss as the mean of the
    earlier ones, and the stage would only fail later, obscurely, when sampling from NaN weights."""

    def __init__(self):
        self.bad_step = None

    def on_log(self, args, state, control, logs=None, **kw):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if value is not None and not float("-inf") < float(value) < float("inf"):
                self.bad_step = state.global_step
                control.should_training_stop = True


class SampleLog(StepLog):
    """Wraps a reward function to keep a few rollouts as `samples.jsonl`: the first `n` completions (with
    prompt, gold answer and score) at step 1 and every `every` steps."""

    def __init__(self, reward_fn, path: Path, every: int, n: int = 4):
        super().__init__(path)
        self.fn, self.every, self.n = reward_fn, max(1, every), n
        self.__name__ = reward_fn.__name__  # TRL names the reward's log columns after it

    def __call__(self, completions, trainer_state=None, **kw):
        scores = self.fn(completions=completions, **kw)
        step = trainer_state.global_step + 1 if trainer_state is not None else 0
        if step and (step == 1 or step % self.every == 0) and all(r["step"] != step for r in self.rows):
            prompts, answers = (
                kw.get("prompts") or [None] * len(completions),
                kw.get("answer") or [None] * len(completions),
            )
            self.add(
                [
                    {"step": step, "prompt": _last_text(p), "answer": a, "completion": _last_text(c), self.__name__: s}
                    for p, c, a, s in list(zip(prompts, completions, answers, scores))[: self.n]
                ]
            )
        return scores


def _last_text(message) -> str | None:
    """The text of a plain string, or of the last message's text parts in a conversation."""
    if message is None or isinstance(message, str):
        return message
    content = message[-1]["content"] if message else ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")
