"""Per-step training metrics as `metrics.jsonl`, in the same names for GRPO and SFT stages."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from seethink.fileio import write_jsonl

# TRL log key -> our column
GRPO_KEYS = {"reward": "reward", "rewards/accuracy_reward/mean": "accuracy", "rewards/format_reward/mean": "format",
             "completions/mean_length": "completion_length", "kl": "kl", "entropy": "entropy", "loss": "loss",
             "learning_rate": "lr", "grad_norm": "grad_norm", "frac_reward_zero_std": "frac_zero_std"}
SFT_KEYS = {"loss": "loss", "learning_rate": "lr", "grad_norm": "grad_norm", "mean_token_accuracy": "token_accuracy",
            "entropy": "entropy"}


class MetricsWriter(TrainerCallback):
    """Rewrites `metrics.jsonl` atomically on every log; on resume, rows past the resumed step are dropped."""

    def __init__(self, path: Path, keys: dict[str, str]):
        self.path, self.keys = path, keys
        self.rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def on_train_begin(self, args, state, control, **kw):
        self.rows = [r for r in self.rows if r["step"] <= state.global_step]

    def on_log(self, args, state, control, logs=None, **kw):
        row = {ours: float(logs[theirs]) for theirs, ours in self.keys.items() if theirs in (logs or {})}
        if len(row) > 1 or (row and "loss" not in row):
            self.rows.append({"step": state.global_step, **row})
            write_jsonl(self.path, self.rows)


class NonFiniteGuard(TrainerCallback):
    """Stop a stage whose loss became NaN or inf; the caller keeps the last good checkpoint."""

    def __init__(self):
        self.bad_step = None

    def on_log(self, args, state, control, logs=None, **kw):
        loss = (logs or {}).get("loss")
        if loss is not None and not float("-inf") < float(loss) < float("inf"):
            self.bad_step = state.global_step
            control.should_training_stop = True
