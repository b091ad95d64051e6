"""seethink's reward for EasyR1 and verl: 0.9 * accuracy + 0.1 * format, graded as seethink grades.

`seethink export verl` writes `reward.py` as `seethink/grading.py`'s text followed by this file's text below the
package-only block, so the cluster needs the standard library and math-verify (`pip install math-verify`), not
seethink (whose transformers pin would not fit EasyR1's environment):

    EasyR1  worker.reward.reward_function=reward.py:compute_score       (REWARD_TYPE below: batch)
    verl    custom_reward_function.path=reward.py  custom_reward_function.name=compute_score_verl

The ground truth is the gold answer, or for multiple-choice questions a JSON object {"answer": "B",
"options": [...]}, so that naming the option's text counts like its letter -- as in seethink's own training.
"""

# isort: off
# --- package only: the export replaces this block with seethink/grading.py's text
from seethink.grading import accuracy, format_ok, plausible
# --- end of the package-only block

import json  # noqa: E402
from typing import Any  # noqa: E402
# isort: on

REWARD_NAME = "seethink"
REWARD_TYPE = "batch"  # EasyR1 reads the kind of reward from the module (its `worker.reward.reward_type` is gone)
WEIGHTS = {"accuracy": 0.9, "format": 0.1}  # the paper's; written from the recipe by the export
MATH_VERIFY_TIMEOUT = 5  # seconds for each of math-verify's parse and verify (its own limit; main thread only)


def symbolic_equal(gold: str, pred: str) -> bool:
    """math-verify's verdict in this process (the cluster's reward workers), after the same refusal of inputs that
    can blow up sympy that seethink applies; any failure counts as not equal."""
    if not (plausible(gold) and plausible(pred)):
        return False
    try:
        from math_verify import parse, verify

        g, p = (
            parse(f"${gold}$", parsing_timeout=MATH_VERIFY_TIMEOUT),
            parse(f"${pred}$", parsing_timeout=MATH_VERIFY_TIMEOUT),
        )
        return bool(g) and bool(p) and bool(verify(g, p, timeout_seconds=MATH_VERIFY_TIMEOUT))
    except Exception:  # noqa: BLE001 - ImportError included: without math-verify, symbolic answers score 0
        return False


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
    acc, fmt = accuracy(response, answer, options, symbolic_equal), float(format_ok(response))
    overall = WEIGHTS.get("accuracy", 0.0) * acc + WEIGHTS.get("format", 0.0) * fmt
    return {"overall": overall, "accuracy": acc, "format": fmt}


def compute_score(reward_inputs: list[dict[str, Any]], **_) -> list[dict[str, float]]:
    """EasyR1's batch interface: each input has "response" and "ground_truth"."""
    if not isinstance(reward_inputs, list):
        raise ValueError("seethink's reward is a batch reward (REWARD_TYPE = 'batch'): pass a list of inputs")
    return [score_one(r["response"], r["ground_truth"]) for r in reward_inputs]


def compute_score_verl(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **_
) -> dict[str, float]:
    """verl's custom reward interface; verl logs the extra keys and trains on "score"."""
    s = score_one(solution_str, ground_truth)
    return {"score": s["overall"], "accuracy": s["accuracy"], "format": s["format"]}
