"""Pre-registered tests (issue 35 item 6): Student's t without scipy, TOST, Holm, MDE, and claims read by them."""

import math
from dataclasses import replace

import pytest

from seethink.eval import stats
from seethink.eval.metrics import T975


@pytest.mark.parametrize("df, x", sorted(T975.items()))
def test_t_cdf_and_quantile_agree_with_the_t_table(df, x):
    assert stats.t_cdf(x, df) == pytest.approx(0.975, abs=1e-4)  # the table has 3 decimals
    assert stats.t_ppf(0.975, df) == pytest.approx(x, abs=2e-3)
    assert stats.t_cdf(-x, df) == pytest.approx(0.025, abs=1e-4)


def test_t_cdf_closed_forms_and_the_normal_limit():
    for x in (-3.0, -0.4, 0.0, 0.7, 5.0):
        assert stats.t_cdf(x, 1) == pytest.approx(0.5 + math.atan(x) / math.pi, abs=1e-10)
        assert stats.t_cdf(x, 2) == pytest.approx(0.5 + x / (2 * math.sqrt(2 + x * x)), abs=1e-10)
    assert stats.t_cdf(1.959964, 1e6) == pytest.approx(0.975, abs=1e-5)
    assert stats.t_ppf(0.8, 4) == pytest.approx(0.9410, abs=1e-3)  # the power term of the MDE
    with pytest.raises(ValueError):
        stats.t_ppf(1.0, 3)


def test_holm_step_down():
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_equivalence_superiority_and_mde():
    # a difference of 0 with se 0.01 on 4 df: equivalent within 0.03 (t = 3 > t_0.95 = 2.132), not within 0.01
    assert stats.p_equivalent(0.0, 0.01, 4, 0.03) == pytest.approx(1 - stats.t_cdf(3.0, 4))
    assert stats.p_equivalent(0.0, 0.01, 4, 0.03) < 0.05 < stats.p_equivalent(0.0, 0.01, 4, 0.01)
    assert stats.p_equivalent(0.025, 0.01, 4, 0.03) > 0.05  # close to the margin: not shown equivalent
    assert stats.p_superior(0.05, 0.01, 4) == pytest.approx(1 - stats.t_cdf(5.0, 4))
    assert stats.p_two_sided(-0.05, 0.01, 4) == pytest.approx(2 * (1 - stats.t_cdf(5.0, 4)))
    assert stats.mde(0.01, 4) == pytest.approx((2.1318 + 0.9410) * 0.01, abs=1e-4)
    assert stats.decide(0.01, 0.05, 1, 0.9, 0.03, 0.02) == "reproduced"
    assert stats.decide(0.01, -0.05, 1, 0.9, 0.03, 0.02) == "opposite"
    assert stats.decide(0.4, 0.0, 1, 0.01, 0.03, 0.02) == "equivalent within ±0.03"
    assert stats.decide(0.4, 0.0, 1, 0.2, 0.03, 0.0412) == "underpowered (minimum detectable effect 0.0412)"


def test_claims_with_margins_are_decided_holm_corrected_and_report_their_gain_ratio(tmp_path):
    from test_experiment import PAPER, row

    from seethink.eval.claims import evaluate_claims
    from seethink.experiment import Claim
    from seethink.report.study import _tests_rows

    study = replace(
        PAPER,
        claims=[
            Claim("big", "staged > merged", "", "staged", "merged", margin=0.03),
            Claim("same", "staged-b = merged", "", "staged-b", "merged", margin=0.03),
            Claim("few", "one seed", "", "one", "merged", margin=0.03),
            Claim("old", "no margin", "", "staged", "merged"),
        ],
    )
    runs = {
        "staged": {s: row("staged", s, 0.60 + 0.004 * s, 0.60) for s in range(5)},
        "staged-b": {s: row("staged-b", s, 0.45 + 0.001 * (s % 2), 0.50) for s in range(5)},
        "merged": {s: row("merged", s, 0.45, 0.50 + 0.002 * s) for s in range(5)},
        "one": {0: row("one", 0, 0.5, 0.5)},
    }
    base = {**row("base", None, 0.35, 0.40), "vr_perception_share": 0.8}
    claims = {c["claim"]: c for c in evaluate_claims(study, base, runs)}
    assert claims["big"]["decision"] == "reproduced"
    assert claims["same"]["decision"] == "equivalent within ±0.03"
    assert claims["few"]["decision"] == "underpowered (fewer than 2 seeds)"
    assert "decision" not in claims["old"] and claims["old"]["verdict"] == "reproduced"
    t = claims["big"]["tests"]
    assert t["df"] == 4 and t["p_two_sided_holm"] == pytest.approx(min(1.0, 2 * t["p_two_sided"]))
    # gains over the base, overall: staged (0.608, 0.3, 0.60) - base (0.35, 0.3, 0.40); merged (0.45, 0.3, 0.504)
    assert claims["big"]["gains"] == pytest.approx([(0.258 + 0.20) / 3, (0.10 + 0.104) / 3], abs=1e-9)
    assert claims["big"]["gain_ratio"] == pytest.approx(0.458 / 0.204, abs=1e-9)
    text = "\n".join(_tests_rows(list(claims.values())))
    assert "| big | +0.0847 |" in text and "| few | +0.0167 | – |" in text and "2.25x" in text


def test_the_preregistered_base_v5_study_loads_with_its_margins():
    """experiments/base-v5/study.yaml is docs/experiments/base-v5-preregistration.md's table: it must not rot."""
    from pathlib import Path

    from seethink.experiment import load_study, recipe_of

    root = Path(__file__).resolve().parents[1] / "experiments" / "base-v5"
    study = load_study(root / "study.yaml")
    assert study.seeds == [0, 1, 2, 3, 4] and study.world_seed == 2027 and study.world == {"families": "v5"}
    claims = {c.id: (c.a, c.b, c.metric, c.direction, c.margin) for c in study.claims}
    assert claims["H1"] == ("staged", "merged", "visual_reasoning", 1, 0.03)
    assert claims["H5"] == ("staged", "merged", "worked_think_visual_reasoning", -1, 10)
    assert claims["PC"][:3] == ("staged", "stages-23", "perception") and claims["PC"][4] is None
    for name in study.configurations:
        recipe = recipe_of(study, root, name)
        assert all(s.max_completion_length == 112 for s in recipe.stages), name  # amendment 1
