"""Supervised fine-tuning on the records' solutions (TRL's SFTTrainer): caption-SFT, the paper's baseline for
the perception stage."""

from __future__ import annotations

from seethink.algorithms.base import Algorithm, lazy_dataset
from seethink.prompting import prompt_messages, target_text


class SFT(Algorithm):
    name = "sft"
    config_class_name = "SFTConfig"
    trainer_class_name = "SFTTrainer"
    log_keys = {
        "loss": "loss",
        "learning_rate": "lr",
        "grad_norm": "grad_norm",
        "mean_token_accuracy": "token_accuracy",
        "entropy": "entropy",
        "epoch": "epoch",
    }

    def trl_args(self, stage, engine: dict) -> dict:
        return dict(max_length=None)  # the prompts were bounded when the stage's records were built

    def dataset(self, records: list[dict]):
        return lazy_dataset(
            [
                {
                    "prompt": prompt_messages(r),
                    "completion": [{"role": "assistant", "content": target_text(r)}],
                    "images": list(r["images"]),
                }
                for r in records
            ]
        )
