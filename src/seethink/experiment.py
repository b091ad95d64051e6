"""`seethink experiment paper [--quick]`: the paper's comparisons on the miniature, over seeds, with verdicts.

Every configuration starts from the shipped base and trains on one fixed world (seed 0, built once; the
pass rates the difficulty curricula need are computed once by pass@K with the base). The seed varies the
training only (rollout sampling, shuffles). Each final checkpoint is evaluated greedily on a held-out split
with error attribution. Budgets are the shipped recipes' (merged and difficulty derive theirs from staged,
so rollouts are equal); `--quick` scales every stage's steps by the same factor.

    OUT/results/<config>-s<seed>.json, base.json    one small summary per run: the study's raw data (commit it)
    OUT/runs/                                        ordinary `seethink train` run folders (checkpoints; not committed)
    OUT/world/                                       the fixed world
    OUT/reproduction.md, OUT/accuracy.png            the claims, the numbers, the verdicts

Resumable: runs with a results file are skipped, an interrupted run resumes like any `seethink train` run,
and the report is rewritten from whatever results exist (missing comparisons are marked "not run").

Comparisons are paired by seed: per seed, the difference of two configurations' scores; then its mean and a
t-based 95% CI over seeds. Verdict: reproduced if the CI excludes 0 in the paper's direction, not reproduced
if it excludes 0 in the other direction, inconclusive otherwise. Nothing is tuned to make a claim pass.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from seethink.errors import SeethinkError
from seethink.fileio import ensure_dir, write_bytes, write_json, write_text

CAPABILITIES = ("perception", "text_reasoning", "visual_reasoning")
CONFIGS = ("merged", "staged", "sft-perception", "order-321", "stage3-only", "difficulty", "capability-x-difficulty")
NEEDS_PASS_RATES = ("difficulty", "capability-x-difficulty")


@dataclass(frozen=True)
class Plan:
    seeds: tuple[int, ...] = (0, 1, 2)
    step_scale: float = 1.0
    """Every stage's steps are multiplied by this (rounded; at least 1)."""
    eval_limit: int = 0
    """Records per capability in the per-stage evaluations (0 = the recipe's split in full)."""
    final_split: str = "test"
    passk_k: int = 8


FULL = Plan()
QUICK = Plan(seeds=(0, 1), step_scale=0.2, eval_limit=100, final_split="validation", passk_k=4)


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    paper: str
    a: str = ""
    b: str = ""
    metric: str = "overall"
    direction: int = 1
    """+1: the paper finds a > b; -1: a < b."""
    relative: bool = False
    """Compare (a - b) / b in percent instead of a - b in points."""


CLAIMS = (
    Claim("1", "Most wrong answers of the base are perception errors", "86.9% of errors (Qwen3-VL-8B)"),
    Claim("2a", "Staged beats merged on visual reasoning", "+1.1 to +3.8 avg", "staged", "merged", "visual_reasoning"),
    Claim("2b", "Staged beats merged on perception", "+1.1 to +3.8 avg", "staged", "merged", "perception"),
    Claim("3", "Staged gives shorter reasoning traces (visual reasoning)", "-20.8%", "staged", "merged",
          "think_visual_reasoning", -1, True),
    Claim("4", "RL beats caption SFT for the perception stage (average)", "RL stage 1 better", "staged",
          "sft-perception"),
    Claim("5", "Reversing the order (3-2-1) is worse on visual reasoning", "-4.6 on visual math", "staged",
          "order-321", "visual_reasoning"),
    Claim("6a", "Difficulty order beats merged (average)", "+1.8", "difficulty", "merged"),
    Claim("6b", "Capability order beats merged (average)", "+2.0", "staged", "merged"),
    Claim("6c", "Capability x difficulty beats merged (average)", "+4.4", "capability-x-difficulty", "merged"),
    Claim("6d", "The two curricula add up: both beat capability alone", "+2.5 (63.0 vs 60.5)",
          "capability-x-difficulty", "staged"),
    Claim("6e", "The two curricula add up: both beat difficulty alone", "+2.6 (63.0 vs 60.4)",
          "capability-x-difficulty", "difficulty"),
)

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        15: 2.131, 20: 2.086, 30: 2.042}


def t975(df: int) -> float:
    """Two-sided 95% Student-t quantile; between table entries the smaller df's (wider) value."""
    return T975[max(k for k in T975 if k <= df)]


def t_halfwidth(values) -> float:
    """Half-width of the Student-t 95% CI of the mean of >= 2 values."""
    return t975(len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))


def paired(a: dict[int, float], b: dict[int, float], relative: bool = False) -> dict:
    """Mean per-seed difference a - b (or 100 (a - b) / b) with a t-based 95% CI over the seeds in both."""
    seeds = sorted(set(a) & set(b))
    d = np.array([100 * (a[s] - b[s]) / b[s] if relative else a[s] - b[s] for s in seeds], dtype=float)
    if len(d) == 0:
        return {"n": 0, "mean": None, "ci95": None, "seeds": []}
    if len(d) == 1:
        return {"n": 1, "mean": float(d[0]), "ci95": None, "seeds": seeds}
    half = t_halfwidth(d)
    return {"n": len(d), "mean": float(d.mean()), "ci95": [float(d.mean() - half), float(d.mean() + half)],
            "seeds": seeds}


def verdict(ci: list[float] | None, direction: int) -> str:
    if ci is None:
        return "inconclusive (fewer than 2 seeds)"
    lo, hi = ci
    if (lo > 0 and direction > 0) or (hi < 0 and direction < 0):
        return "reproduced"
    if (hi < 0 and direction > 0) or (lo > 0 and direction < 0):
        return "not reproduced (opposite direction)"
    return "inconclusive"


# ---------------------------------------------------------------- running

def _summary_result(config: str, seed: int | None, summary: dict, extra: dict | None = None) -> dict:
    cap = summary["capability"]
    att = summary.get("attribution", {}).get("visual_reasoning", {})
    return {"config": config, "seed": seed, **(extra or {}),
            "accuracy": {c: cap[c]["accuracy"] for c in CAPABILITIES},
            "ci95": {c: cap[c]["ci95"] for c in CAPABILITIES},
            "n": {c: cap[c]["n"] for c in CAPABILITIES},
            "overall": float(np.mean([cap[c]["accuracy"] for c in CAPABILITIES])),
            "think_tokens": {c: cap[c]["mean_think_tokens"] for c in CAPABILITIES},
            "vr_errors": att.get("errors"), "vr_perception_errors": att.get("perception"),
            "vr_perception_share": att.get("perception_share"), "vr_perception_share_ci95": att.get("perception_share_ci95")}


def _final_eval(model: Path, world: Path, split: str, out: Path) -> dict:
    """Greedy, with attribution, on the three capabilities' `split` in full (skipped if `out` has it)."""
    from seethink.recipe import EvalSettings
    from seethink.train.run import evaluate_into

    return evaluate_into(model, EvalSettings(datasets=list(CAPABILITIES), split=split), world, out, seed=0)


def prepare_world(out: Path, plan: Plan, needs_pass_rates: bool, world: Path | None = None) -> Path:
    """The fixed world (built once under OUT, or `world`), with pass rates on its train splits if needed."""
    from seethink.data.io import load_records
    from seethink.models.base import base_path
    from seethink.passk import passk
    from seethink.train.run import BUILTIN_WORLD_SIZES
    from seethink.world.build import build_world

    if world is not None:
        if not all((world / c).is_dir() for c in CAPABILITIES):
            raise SeethinkError(f"--world {world}: not a world folder (needs {', '.join(CAPABILITIES)}/)")
    else:
        world = out / "world"
    if not (world / "world.json").is_file():
        print(f"building the fixed world at {world}")
        build_world(world, 0, BUILTIN_WORLD_SIZES)
    if needs_pass_rates and any(load_records(world / c, "train", check_images=False)[0]["pass_rate"] is None
                                for c in CAPABILITIES):
        print(f"pass@{plan.passk_k} of the base on every train record (for the difficulty curricula)")
        passk(base_path(), world, "train", plan.passk_k, chunk=32, max_new_tokens=64)
    return world


def run_one(config: str, seed: int, plan: Plan, world: Path, out: Path) -> dict:
    """Train one configuration with one seed and evaluate its final checkpoint; returns the result row."""
    from seethink.recipe import RECIPES_DIR, load_recipe, rollouts
    from seethink.report import load_run
    from seethink.train.run import run_recipe

    path = RECIPES_DIR / f"{config}.yaml"
    overrides = [f"name={config}-s{seed}", f"seed={seed}", f"data={world}", f"output_dir={out / 'runs'}"]
    if plan.eval_limit:
        overrides.append(f"eval.limit={plan.eval_limit}")
    if plan.step_scale != 1:
        overrides += [f"stages.{k}.steps={max(1, round(s.steps * plan.step_scale))}"
                      for k, s in enumerate(load_recipe(path).stages)]
    recipe = load_recipe(path, overrides)
    t = time.time()
    run_dir = run_recipe(recipe)
    last = f"{len(recipe.stages)}-{recipe.stages[-1].name}"
    summary = _final_eval(run_dir / "stages" / last / "checkpoint", world, plan.final_split,
                          run_dir / "eval" / f"final-{plan.final_split}")
    stages = [{"name": s.name, "algorithm": s.algorithm, "seconds": s.seconds,
               "accuracy": {c: s.eval["capability"][c]["accuracy"] for c in CAPABILITIES} if s.eval else None}
              for s in load_run(run_dir).stages]
    extra = {"steps": sum(s.steps for s in recipe.stages),
             "rollouts": sum(rollouts(s) for s in recipe.stages if s.algorithm == "grpo"),
             "train_seconds": round(sum(s["seconds"] or 0 for s in stages), 1), "wall_seconds": round(time.time() - t, 1),
             "stages": stages, "split": plan.final_split}
    return _summary_result(config, seed, summary, extra)


def run_paper(out: str | Path, plan: Plan = FULL, only: tuple[str, ...] = CONFIGS, report: Path | None = None,
              world: Path | None = None) -> Path:
    """Run every missing (configuration, seed) of the plan, then write the report (also to `report`)."""
    from seethink.models.base import base_path

    unknown = sorted(set(only) - set(CONFIGS))
    if unknown:
        raise SeethinkError(f"--only: unknown configuration(s) {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    out = ensure_dir(out, "experiment folder")
    results = ensure_dir(out / "results")
    earlier = json.loads((out / "plan.json").read_text()).get("configs", []) if (out / "plan.json").is_file() else []
    planned = [c for c in CONFIGS if c in set(earlier) | set(only)]  # pieces run with --only add up
    write_json(out / "plan.json", {**asdict(plan), "configs": planned})
    world = prepare_world(out, plan, any(c in NEEDS_PASS_RATES for c in only), world)
    if not (results / "base.json").is_file():
        summary = _final_eval(base_path(), world, plan.final_split, out / "runs" / "base-eval" / plan.final_split)
        write_json(results / "base.json", _summary_result("base", None, summary, {"split": plan.final_split}))
    for seed in plan.seeds:  # seed-major: a session that stops early has every configuration at equal seeds
        for config in only:
            f = results / f"{config}-s{seed}.json"
            if f.is_file():
                print(f"{config} seed {seed}: done, skipped")
                continue
            print(f"{config} seed {seed}: training")
            write_json(f, run_one(config, seed, plan, world, out))
            write_report(out, report)
    return write_report(out, report)


# ---------------------------------------------------------------- report

def load_results(out: Path) -> tuple[dict | None, dict[str, dict[int, dict]]]:
    base, runs = None, {}
    for f in sorted((out / "results").glob("*.json")):
        row = json.loads(f.read_text())
        if row["config"] == "base":
            base = row
        else:
            runs.setdefault(row["config"], {})[row["seed"]] = row
    return base, runs


def metric(row: dict, name: str) -> float:
    if name == "overall":
        return row["overall"]
    if name.startswith("think_"):
        return row["think_tokens"][name[len("think_"):]]
    return row["accuracy"][name]


def evaluate_claims(base: dict | None, runs: dict[str, dict[int, dict]]) -> list[dict]:
    out = []
    for c in CLAIMS:
        row = {"claim": c.key, "text": c.text, "paper": c.paper}
        if c.key == "1":
            if base is None or base.get("vr_perception_share") is None:
                out.append({**row, "miniature": "not run", "verdict": "not run"})
                continue
            share, (lo, hi) = base["vr_perception_share"], base["vr_perception_share_ci95"]
            v = "reproduced" if lo > 0.5 else ("not reproduced (opposite direction)" if hi < 0.5 else "inconclusive")
            out.append({**row, "miniature": f"{share:.1%} [{lo:.1%}, {hi:.1%}] of {base['vr_errors']} wrong "
                                            "visual-reasoning answers (bootstrap 95% CI)", "verdict": v,
                        "estimate": share, "ci95": [lo, hi]})
            continue
        a = {s: metric(r, c.metric) for s, r in runs.get(c.a, {}).items()}
        b = {s: metric(r, c.metric) for s, r in runs.get(c.b, {}).items()}
        p = paired(a, b, c.relative)
        if p["n"] == 0:
            out.append({**row, "miniature": "not run", "verdict": "not run"})
            continue
        scale, unit = (1, "%") if c.relative else ((1, " tokens") if c.metric.startswith("think_") else (100, " points"))
        ci = f" [{p['ci95'][0] * scale:+.1f}, {p['ci95'][1] * scale:+.1f}]" if p["ci95"] else ""
        out.append({**row, "miniature": f"{p['mean'] * scale:+.1f}{unit}{ci} ({c.a} - {c.b}, {c.metric}, "
                                        f"{p['n']} seed{'s' if p['n'] > 1 else ''})",
                    "verdict": verdict(p["ci95"], c.direction), "estimate": p["mean"], "ci95": p["ci95"]})
    return out


def _mean_ci(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "–"
    return f"{np.mean(values):.3f} ± {t_halfwidth(values):.3f}"


def _plot(base: dict | None, runs: dict[str, dict[int, dict]]) -> bytes:
    from seethink.report import figure_png, pyplot

    plt = pyplot()
    names = (["base"] if base else []) + [c for c in CONFIGS if c in runs]
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(names) + 2), 4))
    width = 0.8 / len(CAPABILITIES)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, cap in enumerate(CAPABILITIES):
        for i, name in enumerate(names):
            vals = [base["accuracy"][cap]] if name == "base" else [r["accuracy"][cap] for r in runs[name].values()]
            x = i + (j - 1) * width
            ax.bar(x, np.mean(vals), width * 0.9, color=colours[j], alpha=0.7, label=cap if i == 0 else None)
            ax.scatter([x] * len(vals), vals, s=10, color="black", zorder=3)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("held-out accuracy (bars: mean over seeds; dots: seeds)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, 1.12))
    png = figure_png(fig)
    plt.close(fig)
    return png


def write_report(out: Path, copy_to: Path | None = None) -> Path:
    base, runs = load_results(out)
    plan = json.loads((out / "plan.json").read_text()) if (out / "plan.json").is_file() else {}
    claims = evaluate_claims(base, runs)
    lines = ["# Reproduction study: the paper's claims on the miniature", "",
             f"Generated by `seethink experiment paper{' --quick' if plan.get('step_scale', 1) != 1 else ''}` "
             f"from `{out}/results/` (one JSON per run). Plan: seeds {plan.get('seeds')}, steps x "
             f"{plan.get('step_scale')}, final evaluation on the {plan.get('final_split')} split "
             "(greedy, with judge-free error attribution).", ""]
    planned = len(plan.get("seeds", [])) * len(plan.get("configs", []))
    done = sum(len(v) for v in runs.values())
    if planned and done < planned:
        lines += [f"**Partial: {done} of {planned} planned runs finished so far** (the study resumes where it "
                  "stopped; comparisons use the seeds both sides have).", ""]
    if plan.get("step_scale", 1) != 1:
        lines += ["**Quick mode: fewer seeds and steps. Indicative only.**", ""]
    lines += ["## Claims", "", "| # | claim | paper | miniature: mean [95% CI] | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {c['claim']} | {c['text']} | {c['paper']} | {c['miniature']} | {c['verdict']} |" for c in claims]
    n_seeds = len(plan.get("seeds", [])) or 2
    lines += ["", f"Differences are paired by seed; CIs are Student-t over seeds ({n_seeds} seeds: t = "
              f"{t975(max(1, n_seeds - 1))}, so only large effects are decided).", "",
              "## Runs", "",
              "| configuration | seeds | perception | text reasoning | visual reasoning | average | VR think tokens | "
              "VR errors from perception | rollouts | train s |", "|---|---|---|---|---|---|---|---|---|---|"]
    if base:
        lines.append(f"| base | – | {base['accuracy']['perception']:.3f} | {base['accuracy']['text_reasoning']:.3f} | "
                     f"{base['accuracy']['visual_reasoning']:.3f} | {base['overall']:.3f} | "
                     f"{base['think_tokens']['visual_reasoning']:.1f} | {base['vr_perception_share']:.0%} | 0 | 0 |")
    for config in CONFIGS:
        rs = list(runs.get(config, {}).values())
        if not rs:
            continue
        cells = [_mean_ci([r["accuracy"][c] for r in rs]) for c in CAPABILITIES]
        shares = [r["vr_perception_share"] for r in rs if r["vr_perception_share"] is not None]
        lines.append(f"| {config} | {len(rs)} | {' | '.join(cells)} | {_mean_ci([r['overall'] for r in rs])} | "
                     f"{np.mean([r['think_tokens']['visual_reasoning'] for r in rs]):.1f} | "
                     f"{np.mean(shares):.0%} | {rs[0]['rollouts']} | {np.mean([r['train_seconds'] for r in rs]):.0f} |")
    lines += ["", "Cells: mean ± t-based 95% half-width over seeds. Each run's own bootstrap CIs are in its JSON.",
              "", "![accuracy per configuration](accuracy.png)", ""]
    notes = out / "notes.md"
    if notes.is_file():
        lines += ["## Reading", "", notes.read_text().strip(), ""]
    text = "\n".join(lines)
    write_bytes(out / "accuracy.png", _plot(base, runs))
    write_text(out / "reproduction.md", text)
    write_json(out / "claims.json", claims)
    if copy_to is not None:
        ensure_dir(copy_to.parent)
        write_text(copy_to, text.replace("](accuracy.png)", f"]({os.path.relpath(out / 'accuracy.png', copy_to.parent)})"))
    return out / "reproduction.md"

