"""Accuracy with bootstrap confidence intervals, and answer-prior baselines."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from seethink.rewards import accuracy, mcq_choice


def bootstrap_ci(values, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean; (nan, nan) for no values."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _gold_text(r: dict) -> str:
    i = mcq_choice(r["answer"], r["options"])
    return r["answer"] if i is None else r["options"][i]


def prior_accuracy(train: list[dict], test: list[dict]) -> dict[str, float]:
    """Best blind baseline per family, learnt from `train` gold answers and scored on `test`.

    Numeric/free answers: always answer the most frequent gold answer. MCQs: the better of always the
    most frequent letter, and picking the option whose text is the most frequent gold text.
    """
    by_family = defaultdict(list)
    for r in train:
        by_family[r.get("family", "")].append(r)
    result = {}
    for family in sorted({r.get("family", "") for r in test}):
        rows = [r for r in test if r.get("family", "") == family]
        tr = by_family.get(family) or rows
        if rows[0].get("options"):
            letter = Counter(r["answer"] for r in tr).most_common(1)[0][0]
            freq = Counter(_gold_text(r) for r in tr)
            acc_letter = np.mean([r["answer"] == letter for r in rows])
            acc_text = np.mean([max(range(len(r["options"])), key=lambda i: (freq[r["options"][i]], -i)) ==
                                mcq_choice(r["answer"], r["options"]) for r in rows])
            result[family] = float(max(acc_letter, acc_text))
        else:
            top = Counter(r["answer"] for r in tr).most_common(1)[0][0]
            result[family] = float(np.mean([accuracy(f"\\boxed{{{top}}}", r["answer"]) for r in rows]))
    return result
