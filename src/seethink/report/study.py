"""A study's report in Markdown: the claims with their verdicts, then every configuration's numbers.

Rendering only: the numbers and verdicts come from `seethink.eval.claims`."""

from __future__ import annotations

import numpy as np

from seethink.eval.metrics import t975, t_halfwidth
from seethink.records.schema import CAPABILITIES
from seethink.report.plots import study_png

study_plot = study_png


def _mean_ci(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "–"
    return f"{np.mean(values):.3f} ± {t_halfwidth(values):.3f}"


def _run_rows(configurations: list[str], base: dict | None, runs: dict[str, dict[int, dict]]) -> list[str]:
    lines = [
        "| configuration | seeds | perception | text reasoning | visual reasoning | average | VR think tokens | "
        "VR errors from perception | rollouts | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    if base:
        lines.append(
            f"| base | – | {base['accuracy']['perception']:.3f} | {base['accuracy']['text_reasoning']:.3f} | "
            f"{base['accuracy']['visual_reasoning']:.3f} | {base['overall']:.3f} | "
            f"{base['think_tokens']['visual_reasoning']:.1f} | {base['vr_perception_share']:.0%} | 0 | 0 |"
        )
    for config in configurations:
        rs = list(runs.get(config, {}).values())
        if not rs:
            continue
        cells = [_mean_ci([r["accuracy"][c] for r in rs]) for c in CAPABILITIES]
        shares = [r["vr_perception_share"] for r in rs if r["vr_perception_share"] is not None]
        lines.append(
            f"| {config} | {len(rs)} | {' | '.join(cells)} | {_mean_ci([r['overall'] for r in rs])} | "
            f"{np.mean([r['think_tokens']['visual_reasoning'] for r in rs]):.1f} | "
            f"{np.mean(shares):.0%} | {_rollouts(rs)} | {np.mean([r['train_seconds'] for r in rs]):.0f} |"
        )
    return lines


def _rollouts(rs: list[dict]) -> str:
    """Completions sampled per run: the recipe's, plus the mean of online group filtering's extra draws."""
    extra = np.mean([r.get("extra_rollouts", 0) for r in rs])
    return f"{rs[0]['rollouts']} + {extra:.0f}" if extra else str(rs[0]["rollouts"])


def _null_rows(null: str, gains: dict[str, dict]) -> list[str]:
    lines = [
        f"## Against the null ({null})",
        "",
        f"Average held-out accuracy minus {null}'s, paired by seed: "
        "a configuration whose CI includes 0 did no better than training on shuffled rewards (CIs over seeds "
        "and, where the runs keep per-record scores, the test set's records).",
        "",
        "| configuration | − null (points) | 95% CI | seeds | verdict |",
        "|---|---|---|---|---|",
    ]
    for config, g in gains.items():
        ci = f"[{100 * g['ci95'][0]:+.1f}, {100 * g['ci95'][1]:+.1f}]" if g["ci95"] else "–"
        lines.append(f"| {config} | {100 * g['mean']:+.1f} | {ci} | {g['n']} | {g['verdict']} |")
    return lines + ["", "![gain over the null](against-null.png)", ""]


def _zero_signal_rows(configurations: list[str], runs: dict[str, dict[int, dict]]) -> list[str]:
    """Per configuration and GRPO stage, the share of groups whose rewards are all equal, first to last fifth."""
    head = [
        "## Groups without signal",
        "",
        "Share of GRPO groups whose samples all got the same reward (all right "
        "or all wrong: no gradient), in five equal spans of each stage, first → last; mean over seeds. TRL's "
        "share is over every draw; with online group filtering, the first draw's share and the share left in the "
        "batch trained on follow.",
        "",
        "| configuration | stage | share of zero-variance groups, first → last fifth |",
        "|---|---|---|",
    ]
    lines = []
    for config in configurations:
        rs = [r for r in runs.get(config, {}).values() if r.get("stages")]
        if not rs:
            continue
        for k, stage in enumerate(rs[0]["stages"]):
            for key, what in (
                ("frac_zero_std", ""),
                ("filter_zero_std_share", " (filter: first draw)"),
                ("filter_signal_share", " (filter: batch trained on)"),
            ):
                fifths = [r["stages"][k].get(key) for r in rs if len(r["stages"]) > k]
                fifths = [f for f in fifths if f]
                if fifths:
                    mean = np.mean(fifths, axis=0)
                    cells = " → ".join(f"{v:.0%}" for v in (1 - mean if key == "filter_signal_share" else mean))
                    lines.append(f"| {config} | {stage['name']}{what} | {cells} |")
    return head + lines if lines else []


def _tests_rows(claims: list[dict]) -> list[str]:
    """The pre-registered reading of the claims with a margin, and every accuracy claim's gain ratio."""
    tested = [c for c in claims if "decision" in c]
    ratios = [c for c in claims if c.get("gain_ratio") is not None]
    lines = []
    if tested:
        lines += [
            "",
            "Pre-registered tests (`seethink.eval.stats`): two-sided t-test of no difference and TOST against the "
            "margin, each Holm-corrected across these claims, level 0.05; standard error over seeds and test "
            "records; MDE: the smallest true difference a one-sided test finds with 80% power.",
            "",
            "| # | estimate | se | MDE | margin | p two-sided (Holm) | p equivalent (Holm) | decision |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in tested:
            t = c["tests"]
            if t is None or "p_two_sided" not in t:
                lines.append(f"| {c['claim']} | {c['estimate']:+.4f} | – | – | – | – | – | {c['decision']} |")
                continue
            lines.append(
                f"| {c['claim']} | {c['estimate']:+.4f} | {t['se']:.4f} | {t['mde']:.4f} | ±{t['margin']:g} | "
                f"{t['p_two_sided']:.3g} ({t['p_two_sided_holm']:.3g}) | {t['p_equivalent']:.3g} "
                f"({t['p_equivalent_holm']:.3g}) | {c['decision']} |"
            )
    if ratios:
        lines += ["", "Gain over the base, a's divided by b's (the paper: staged's is 1.44x merged's): "]
        lines[-1] += (
            "; ".join(
                f"{c['claim']} {c['gain_ratio']:.2f}x ({c['gains'][0] * 100:+.1f} / {c['gains'][1] * 100:+.1f} points)"
                for c in ratios
            )
            + "."
        )
    return lines


def study_markdown(
    study,
    base: dict | None,
    runs: dict[str, dict[int, dict]],
    claims: list[dict],
    planned: int,
    notes: str = "",
    gains: dict[str, dict] | None = None,
) -> str:
    """`study`: a `seethink.experiment.Study`; `planned`: runs planned so far (a partial study says so); `gains`:
    each configuration against the null (`seethink.eval.claims.against_null`)."""
    lines = [
        f"# {study.name}",
        "",
        f"Generated by `seethink experiment` from the study file and `results/` (one JSON per run). Seeds "
        f"{study.seeds}, steps x {study.step_scale}, final evaluation on the {study.final_split} split "
        "(greedy, with judge-free error attribution).",
        "",
    ]
    done = sum(len(v) for v in runs.values())
    if planned and done < planned:
        lines += [
            f"**Partial: {done} of {planned} planned runs finished so far** (the study resumes where it "
            "stopped; comparisons use the seeds both sides have).",
            "",
        ]
    if study.step_scale != 1:
        lines += ["**Quick mode: fewer seeds and steps. Indicative only.**", ""]
    lines += ["## Claims", "", "| # | claim | paper | miniature: mean [95% CI] | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {c['claim']} | {c['text']} | {c['paper']} | {c['miniature']} | {c['verdict']} |" for c in claims]
    n_seeds = len(study.seeds)
    lines += _tests_rows(claims)
    lines += [
        "",
        f"Differences are paired by seed; CIs are Student-t over seeds ({n_seeds} seeds: t = "
        f'{t975(max(1, n_seeds - 1))}). Accuracy differences marked "x records" are also paired record by '
        "record, and their CI adds in quadrature the test set's sampling spread (1.96 standard errors of the "
        "per-record differences, averaged over seeds): another draw of the test set could move them that "
        "much. Think-token claims are over seeds only.",
        "",
        "## Runs",
        "",
    ]
    lines += _run_rows(list(study.configurations), base, runs)
    lines += [
        "",
        "Cells: mean ± t-based 95% half-width over seeds. Each run's own bootstrap CIs are in its JSON.",
        "",
        "![accuracy per configuration](accuracy.png)",
        "",
    ]
    if gains:
        lines += _null_rows(study.control, gains)
    zero = _zero_signal_rows(list(study.configurations), runs)
    if zero:
        lines += zero + [""]
    if notes.strip():
        lines += ["## Reading", "", notes.strip(), ""]
    return "\n".join(lines)
