"""Tests a pre-registered study reads its claims with (issue 35 item 6): one-sided superiority tests, equivalence
by two one-sided tests (TOST) against a margin, Holm's step-down correction across claims, and the minimum
detectable effect of an underpowered comparison. Student's t is computed here (no scipy): its CDF from the
regularised incomplete beta function (continued fraction, Lentz's method), its quantiles by bisection.

Conventions: a difference `mean` with standard error `se` on `df` degrees of freedom (seeds - 1). One-sided tests
at level `alpha` (default 0.05); TOST declares equivalence within ±margin when both one-sided tests reject, i.e.
when the 1 - 2·alpha interval lies inside (-margin, +margin).
"""

from __future__ import annotations

import math


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) for x in [0, 1]."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * betainc(df / 2, 0.5, df / (df + x * x))
    return 1 - tail if x > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """The q-quantile of Student's t (bisection on `t_cdf`)."""
    if not 0 < q < 1:
        raise ValueError(f"quantile level must be in (0, 1), got {q}")
    lo, hi = -1e4, 1e4
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < q else (lo, mid)
    return (lo + hi) / 2


def p_superior(mean: float, se: float, df: float, direction: int = 1) -> float:
    """One-sided p of H0: direction·difference <= 0."""
    return 1 - t_cdf(direction * mean / se, df) if se > 0 else float(direction * mean <= 0)


def p_equivalent(mean: float, se: float, df: float, margin: float) -> float:
    """TOST p: the larger of the two one-sided p's of H0: difference <= -margin and H0: difference >= +margin."""
    if se <= 0:
        return float(abs(mean) >= margin)
    return max(1 - t_cdf((mean + margin) / se, df), 1 - t_cdf((margin - mean) / se, df))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given): controls the family-wise error rate."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        out[i] = running
    return out


def mde(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference a one-sided level-`alpha` test detects with probability `power`."""
    return (t_ppf(1 - alpha, df) + t_ppf(power, df)) * se


def decide(
    p_two: float, mean: float, direction: int, p_eq: float, margin: float, mde_value: float, alpha: float = 0.05
) -> str:
    """A claim's reading from its Holm-adjusted p's (`p_two`: two-sided test of no difference; `p_eq`: TOST):
    reproduced or opposite (by the sign of `mean` against the claim's `direction`), equivalent within ±margin, or
    underpowered with the minimum detectable effect stated."""
    if p_two < alpha:
        return "reproduced" if mean * direction > 0 else "opposite"
    if p_eq < alpha:
        return f"equivalent within ±{margin:g}"
    return f"underpowered (minimum detectable effect {mde_value:.3g})"


def p_two_sided(mean: float, se: float, df: float) -> float:
    """Two-sided p of H0: difference = 0."""
    return min(1.0, 2 * min(p_superior(mean, se, df, 1), p_superior(mean, se, df, -1)))
