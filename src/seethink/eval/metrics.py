"""Accuracy with bootstrap confidence intervals, paired differences over seeds with t-intervals, and answer-prior
baselines."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from seethink.grading import boxed
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


T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}


def t975(df: int) -> float:
    """Two-sided 95% Student-t quantile; between table entries the smaller df's (wider) value."""
    return T975[max(k for k in T975 if k <= df)]


def t_halfwidth(values) -> float:
    """Half-width of the Student-t 95% CI of the mean of >= 2 values."""
    return t975(len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))


def paired(a: dict[int, float], b: dict[int, float], relative: bool = False) -> dict:
    """Mean per-seed difference a - b (or 100 (a - b) / b) with a t-based 95% CI over the seeds in both:
    {"n", "mean", "ci95", "se", "seeds"} (ci95 and se, the mean's standard error, None with fewer than 2 seeds)."""
    seeds = sorted(set(a) & set(b))
    d = np.array([100 * (a[s] - b[s]) / b[s] if relative else a[s] - b[s] for s in seeds], dtype=float)
    if len(d) < 2:
        return {"n": len(d), "mean": float(d[0]) if len(d) else None, "ci95": None, "se": None, "seeds": seeds}
    half = t_halfwidth(d)
    return {
        "n": len(d),
        "mean": float(d.mean()),
        "ci95": [float(d.mean() - half), float(d.mean() + half)],
        "se": float(np.std(d, ddof=1)) / math.sqrt(len(d)),
        "seeds": seeds,
    }


def item_noise_se(diffs: list[tuple[np.ndarray, float]]) -> float:
    """Standard error, from test-set sampling, of a weighted mean of per-item paired differences.

    `diffs`: per part (a capability), each record's difference between two configurations averaged over the seeds
    (an array), and the part's weight in the metric (1 for one capability; 1/3 each for the average of three). Two
    configurations scored on the same records differ by an amount that would change with another draw of the test
    set; this is that spread (paired by record, so records both get right or both miss add nothing)."""
    var = sum(w * w * float(np.var(e, ddof=1)) / len(e) for e, w in diffs if len(e) > 1)
    return math.sqrt(var)


def with_item_noise(p: dict, se: float | None) -> dict:
    """A `paired` result whose 95% CI also covers test-set sampling: the seeds' t half-width and 1.96 `se` (from
    `item_noise_se`) added in quadrature. Both spreads hold some of the record-by-seed residual, so the interval
    errs wide. Kept: the seeds-only interval ("ci95_seeds") and `se` ("item_se")."""
    if se is None or p["ci95"] is None:
        return {**p, "ci95_seeds": p["ci95"], "item_se": se}
    half_seeds = (p["ci95"][1] - p["ci95"][0]) / 2
    half = math.sqrt(half_seeds**2 + (1.96 * se) ** 2)
    return {**p, "ci95": [p["mean"] - half, p["mean"] + half], "ci95_seeds": p["ci95"], "item_se": se}


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
            acc_text = np.mean(
                [
                    max(range(len(r["options"])), key=lambda i: (freq[r["options"][i]], -i))
                    == mcq_choice(r["answer"], r["options"])
                    for r in rows
                ]
            )
            result[family] = float(max(acc_letter, acc_text))
        else:
            top = Counter(r["answer"] for r in tr).most_common(1)[0][0]
            result[family] = float(np.mean([accuracy(boxed(top), r["answer"]) for r in rows]))
    return result
