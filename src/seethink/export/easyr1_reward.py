"""seethink's reward for EasyR1 and verl: 0.9 * accuracy + 0.1 * format, graded by `seethink.rewards`.

Copied next to the exported data by `seethink export verl`; needs `pip install seethink` on the cluster.

    EasyR1  worker.reward.reward_type=batch  worker.reward.reward_function=reward.py:compute_score
    verl    custom_reward_function.path=reward.py  custom_reward_function.name=compute_score_verl

The ground truth is the gold answer, or for multiple-choice questions a JSON object {"answer": "B",
"options": [...]}, so that naming the option's text counts like its letter -- as in seethink's own training.
"""

from __future__ import annotations

import json
from typing import Any

from seethink.rewards import DEFAULT_REWARD, accuracy, format_ok


def _gold(ground_truth: Any) -> tuple[str, list[str] | None]:
    if isinstance(ground_truth, dict):
        return str(ground_truth["answer"]), ground_truth.get("options")
    text = str(ground_truth)
    if text.startswith("{"):
        try:
            obj = json.loads(text)
            return str(obj["answer"]), obj.get("options")
        except (ValueError, KeyError, TypeError):
            pass
    return text, None


def score_one(response: str, ground_truth: Any) -> dict[str, float]:
    answer, options = _gold(ground_truth)
    acc, fmt = accuracy(response, answer, options), float(format_ok(response))
    return {"overall": DEFAULT_REWARD["accuracy"] * acc + DEFAULT_REWARD["format"] * fmt, "accuracy": acc, "format": fmt}


def compute_score(reward_inputs: list[dict[str, Any]], **_) -> list[dict[str, float]]:
    """EasyR1's batch interface: each input has "response" and "ground_truth"."""
    if not isinstance(reward_inputs, list):
        raise ValueError("use worker.reward.reward_type=batch with seethink's reward")
    return [score_one(r["response"], r["ground_truth"]) for r in reward_inputs]


def compute_score_verl(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                       **_) -> dict[str, float]:
    """verl's custom reward interface; verl logs the extra keys and trains on "score"."""
    s = score_one(solution_str, ground_truth)
    return {"score": s["overall"], "accuracy": s["accuracy"], "format": s["format"]}
