"""`seethink experiment run STUDY.yaml`: a study made of many runs, over seeds, with a verdict per claim.

A study file names its configurations (recipes), the seeds, the budget scale, and the claims to test: which
metric, which pair of configurations, the paper's number (`experiments/paper/study.yaml` is the paper's).
Every configuration starts from the recipe's model and trains on one fixed world (the study's `world_seed`,
built once; pass rates for difficulty curricula are computed once, by pass@K with the base). The seed varies
the training only (rollout sampling, shuffles). Each final checkpoint is evaluated greedily on a held-out split
with error attribution.

    DIR/results/<config>-s<seed>.json, base.json    one small summary per run, with per-record 0/1 scores: the
                                                     study's raw data (commit it)
    DIR/runs/                                        ordinary `seethink train` run folders (checkpoints; not committed)
    DIR/world/                                       the fixed world
    DIR/reproduction.md, DIR/accuracy.png, claims.json   the claims, the numbers, the verdicts (`seethink.report`)

DIR is the study file's folder. Resumable: runs with a results file are skipped, an interrupted run resumes like
any `seethink train` run, and the report is rewritten from whatever results exist. Several processes may run one
study in one DIR (one per core or per GPU): each (configuration, seed) is claimed by a writer lock, and a process
skips the runs another one holds.

Comparisons are paired by seed and by test record (every result row keeps its records' 0/1 scores), with a 95%
CI and a verdict per claim: `seethink.eval.claims`. Nothing is tuned to make a claim pass.
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from seethink.algorithms import algorithm
from seethink.configs import Where, apply_overrides, build, did_you_mean, read_yaml, require
from seethink.errors import SeethinkError
from seethink.eval.claims import against_null, evaluate_claims, final_eval_dir, item_scores, load_results
from seethink.fileio import WriterBusy, ensure_dir, held_lock, write_bytes, write_json, write_text, writer_lock
from seethink.recipe import EvalSettings, Recipe, load_recipe, rollouts
from seethink.records.schema import CAPABILITIES, SPLITS
from seethink.study_world import prepare_world

Metric = Literal[
    ("overall", *CAPABILITIES, "think_visual_reasoning", "worked_think_visual_reasoning", "vr_perception_share")
]  # derived: one vocabulary


@dataclass
class Claim:
    id: str
    """Short label, e.g. "2a"."""
    text: str
    """The claim in words."""
    paper: str
    """What the paper reports."""
    a: str
    """The configuration (or `base`) the claim is about."""
    b: str = ""
    """The configuration `a` is compared with, paired by seed; empty: `a`'s own metric against `threshold`."""
    metric: Metric = "overall"
    """Held-out accuracy (a capability, or `overall`, their mean), VR think tokens, or the share of wrong
    visual-reasoning answers that are perception errors."""
    direction: int = 1
    """+1: the paper finds a > b (or a > threshold); -1: a < b."""
    relative: bool = False
    """Compare (a - b) / b in percent instead of a - b."""
    threshold: float = 0.5
    """For a claim without `b`: the value `a`'s metric is compared with (its bootstrap CI decides)."""
    margin: float | None = None
    """The pre-registered equivalence margin, in the metric's own units (0.03: 3 points of accuracy). Given, the
    claim is also read by tests (`seethink.eval.stats`): two-sided t-test and TOST, each Holm-corrected across the
    study's claims that have a margin; its decision is reproduced, opposite, equivalent or underpowered (with the
    minimum detectable effect)."""

    def __post_init__(self):
        require(self.direction in (1, -1), "direction", f"must be 1 or -1, got {self.direction}")
        require(
            self.margin is None or (self.margin > 0 and self.b),
            "margin",
            f"must be > 0, on a claim comparing two configurations (a and b); got {self.margin}",
        )


@dataclass
class Study:
    name: str
    """The study's name; its report's title."""
    configurations: dict[str, str]
    """Configuration name -> recipe file (relative to the study file)."""
    claims: list[Claim] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    step_scale: float = 1.0
    """Every stage's steps are multiplied by this (rounded; at least one rollout round)."""
    eval_limit: int = 0
    """Records per capability in the per-stage evaluations (0 = the recipe's split in full)."""
    final_split: str = "test"
    """The split every final checkpoint (and the base) is evaluated on."""
    passk_k: int = 8
    """Samples per record for the pass rates that difficulty curricula need."""
    world_seed: int = 0
    world: dict = field(default_factory=dict)
    """World settings (`WorldConfig` fields, e.g. {families: v5}) of the study's own world; empty: the built-in
    world of `world_seed`."""
    world_sizes: dict = field(default_factory=dict)
    """Records per split and dataset of the study's own world (e.g. {test: 2000}); the rest as the built-in's."""
    based_on: str = ""
    """Another study file whose settings this one takes; its own keys replace them."""
    control: str = ""
    """The configuration every other one is read against (the shuffled-reward control: a recipe with
    `shuffle_rewards: true`); empty: none. The report then gives each configuration's paired gain over it."""

    def __post_init__(self):
        require(
            bool(self.seeds) and len(set(self.seeds)) == len(self.seeds), "seeds", "must be distinct, and at least one"
        )
        require(0 < self.step_scale <= 1, "step_scale", f"must be in (0, 1], got {self.step_scale}")
        require(self.eval_limit >= 0, "eval_limit", f"must be >= 0, got {self.eval_limit}")
        require(
            self.final_split in SPLITS, "final_split", f"must be one of {', '.join(SPLITS)}, got {self.final_split!r}"
        )
        require(self.passk_k >= 1, "passk_k", f"must be >= 1, got {self.passk_k}")
        from seethink.resolve import world_config

        world_config(self.world)  # every world key and value checked now, not when the world is built
        for k, v in self.world_sizes.items():
            require(k in SPLITS, f"world_sizes.{k}", "unknown split" + did_you_mean(k, list(SPLITS)))
            require(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                f"world_sizes.{k}",
                f"must be >= 1, got {v!r}",
            )


def load_study(path: str | Path, overrides: list[str] = ()) -> Study:
    path = Path(path)
    where = Where(str(path))
    raw = read_yaml(path, "study")
    if raw.get("based_on"):
        parent_path = (path.parent / raw["based_on"]).resolve()
        parent = read_yaml(parent_path, "study")
        parent["configurations"] = {
            k: str(parent_path.parent / v) for k, v in (parent.get("configurations") or {}).items()
        }
        raw = {**parent, **raw}
    study = build(Study, apply_overrides(raw, list(overrides)), "", where)
    if study.control and study.control not in study.configurations:
        where.fail("control", f"{study.control!r} is not a configuration of the study")
    for i, c in enumerate(study.claims):
        for side in ("a", "b"):
            name = getattr(c, side)
            if name and name != "base" and name not in study.configurations:
                where.fail(f"claims.{i}.{side}", f"{name!r} is not a configuration of the study")
    return study


def recipe_of(study: Study, study_dir: Path, config: str, overrides: list[str] = ()) -> Recipe:
    return load_recipe((study_dir / study.configurations[config]).resolve(), overrides)


# ---------------------------------------------------------------- running


def result_row(config: str, seed: int | None, summary: dict, extra: dict | None = None) -> dict:
    """One run's numbers from its final evaluation summary."""
    cap = summary["capability"]
    att = summary.get("attribution", {}).get("visual_reasoning", {})
    return {
        "config": config,
        "seed": seed,
        **(extra or {}),
        "accuracy": {c: cap[c]["accuracy"] for c in CAPABILITIES},
        "ci95": {c: cap[c]["ci95"] for c in CAPABILITIES},
        "n": {c: cap[c]["n"] for c in CAPABILITIES},
        "overall": float(np.mean([cap[c]["accuracy"] for c in CAPABILITIES])),
        "think_tokens": {c: cap[c]["mean_think_tokens"] for c in CAPABILITIES},
        "worked_think_tokens": {c: cap[c].get("worked_correct_think_tokens") for c in CAPABILITIES},
        "worked_share": {c: cap[c].get("worked_share") for c in CAPABILITIES},
        "vr_errors": att.get("errors"),
        "vr_perception_errors": att.get("perception"),
        "vr_perception_share": att.get("perception_share"),
        "vr_perception_share_ci95": att.get("perception_share_ci95"),
    }


def zero_signal(metrics: list[dict], parts: int = 5, key: str = "frac_zero_std") -> list[float] | None:
    """The share of a GRPO stage's groups whose rewards are all equal (no learning signal: every sample right, or
    every one wrong), averaged over `parts` equal spans of its rollout rounds, first to last (None: too few logged).
    `key`: another per-round share of metrics.jsonl (with group filtering: `filter_signal_share`, the groups
    with signal in the batch trained on)."""
    xs = [m[key] for m in metrics if key in m]
    if len(xs) < parts:
        return None
    return [round(float(np.mean(chunk)), 4) for chunk in np.array_split(np.asarray(xs, dtype=float), parts)]


def filter_figures(metrics: list[dict], stage) -> dict:
    """With online group filtering: the first draw's zero-signal share and the trained batch's signal share by
    fifth, and the completions the extra draws sampled per device (a round's completions × extra rounds)."""
    rounds = [m for m in metrics if "filter_extra_rounds" in m]
    if not rounds:
        return {}
    per_round = rollouts(stage) // algorithm(stage).rounds(stage)
    return {
        "filter_zero_std_share": zero_signal(metrics, key="filter_zero_std_share"),
        "filter_signal_share": zero_signal(metrics, key="filter_signal_share"),
        "extra_rounds_share": round(float(np.mean([m["filter_extra_rounds"] > 0 for m in rounds])), 4),
        "extra_rollouts": int(round(per_round * sum(m["filter_extra_rounds"] for m in rounds))),
    }


def _final_eval(model: Path, world: Path, split: str, out: Path) -> dict:
    """Greedy, with attribution, on the three capabilities' `split` in full (skipped if `out` has it)."""
    from seethink.train.run import evaluate_into

    return evaluate_into(model, EvalSettings(datasets=list(CAPABILITIES), split=split), world, out, seed=0)


def _needs_pass_rates(recipe: Recipe) -> bool:
    return any(s.ordering == "difficulty" or s.drop_solved or s.drop_unsolved for s in recipe.stages)


def _scaled(recipe: Recipe, scale: float) -> list[str]:
    """Overrides multiplying every stage's steps by `scale`, in whole rollout rounds."""
    from seethink.recipe import updates_per_round

    out = []
    for k, s in enumerate(recipe.stages):
        per = updates_per_round(s)
        out.append(f"stages.{k}.steps={max(1, round(s.steps * scale / per)) * per}")
    return out


def run_one(study: Study, src: Path, out: Path, config: str, seed: int, world: Path) -> dict:
    """Train one configuration with one seed and evaluate its final checkpoint; returns the result row."""
    from seethink.report.runs import load_run
    from seethink.resolve import model_path
    from seethink.train.run import run_recipe

    overrides = [f"name={config}-s{seed}", f"seed={seed}", f"data={world}", f"output_dir={out / 'runs'}"]
    if study.eval_limit:
        overrides.append(f"eval.limit={study.eval_limit}")
    if study.step_scale != 1:
        overrides += _scaled(recipe_of(study, src, config), study.step_scale)
    recipe = recipe_of(study, src, config, overrides)
    t = time.time()
    run_dir = run_recipe(recipe, model_path(recipe.model), world)
    last = f"{len(recipe.stages)}-{recipe.stages[-1].name}"
    final = final_eval_dir(out, config, seed, study.final_split)  # inside run_dir (runs/<name>)
    summary = _final_eval(run_dir / "stages" / last / "checkpoint", world, study.final_split, final)
    stages = [
        {
            "name": s.name,
            "algorithm": s.algorithm,
            "seconds": s.seconds,
            "accuracy": {c: s.eval["capability"][c]["accuracy"] for c in CAPABILITIES} if s.eval else None,
            "frac_zero_std": zero_signal(s.metrics) if algorithm(s.algorithm).samples else None,
            **filter_figures(s.metrics, planned),
        }
        for s, planned in zip(load_run(run_dir).stages, recipe.stages)
    ]
    extra = {
        "steps": sum(s.steps for s in recipe.stages),
        "null": recipe.shuffle_rewards,
        "rollouts": sum(rollouts(s) for s in recipe.stages if algorithm(s).samples),
        "extra_rollouts": sum(s.get("extra_rollouts", 0) for s in stages),
        "train_seconds": round(sum(s["seconds"] or 0 for s in stages), 1),
        "wall_seconds": round(time.time() - t, 1),
        "stages": stages,
        "split": study.final_split,
    }
    extra["items"] = item_scores(final / "samples.jsonl")
    return result_row(config, seed, summary, extra)


def run_study(
    path: str | Path,
    out: str | Path | None = None,
    overrides: list[str] = (),
    only: tuple[str, ...] = (),
    world: Path | None = None,
) -> Path:
    """Run every missing (configuration, seed) of the study (or of `only`) into `out` (default: the study file's
    folder), then write its report there."""
    from seethink.resolve import model_path

    src = Path(path).resolve().parent
    study = load_study(path, overrides)
    out = ensure_dir(out or src, "experiment folder")
    only = only or tuple(study.configurations)
    unknown = sorted(set(only) - set(study.configurations))
    if unknown:
        raise SeethinkError(
            f"--only: unknown configuration(s) {', '.join(unknown)}; choose from {', '.join(study.configurations)}"
        )
    recipes = {c: recipe_of(study, src, c) for c in only}  # every recipe is checked before anything runs
    results = ensure_dir(out / "results")
    base = model_path(next(iter(recipes.values())).model)
    world = prepare_world(study, world or out / "world", base, any(map(_needs_pass_rates, recipes.values())))
    with held_lock(out / ".plan.lock"):  # read, add, write: one process at a time
        planned = sorted(_planned(out, only))
        write_json(out / "plan.json", {**dataclasses.asdict(study), "configurations_run": planned})
    with held_lock(out / ".base.lock"):
        if not (results / "base.json").is_file():
            where = final_eval_dir(out, "base", None, study.final_split)
            summary = _final_eval(base, world, study.final_split, where)
            write_json(
                results / "base.json",
                result_row(
                    "base", None, summary, {"split": study.final_split, "items": item_scores(where / "samples.jsonl")}
                ),
            )
    for seed in study.seeds:  # seed-major: a session that stops early has every configuration at equal seeds
        for config in only:
            f = results / f"{config}-s{seed}.json"
            if f.is_file():
                print(f"{config} seed {seed}: done, skipped")
                continue
            with ExitStack() as claimed:
                try:
                    claimed.enter_context(writer_lock(f, "seethink experiment"))
                except WriterBusy as e:
                    print(f"{config} seed {seed}: running in {e.holder}, skipped")
                    continue
                if f.is_file():  # finished by another process between the check and the claim
                    print(f"{config} seed {seed}: done, skipped")
                    continue
                print(f"{config} seed {seed}: training")
                write_json(f, run_one(study, src, out, config, seed, world))
            write_report(study, out)
    return write_report(study, out)


def _planned(study_dir: Path, only: tuple[str, ...]) -> set[str]:
    """Configurations planned so far: pieces run with --only add up."""
    plan = study_dir / "plan.json"
    earlier = json.loads(plan.read_text()).get("configurations_run", []) if plan.is_file() else []
    return set(earlier) | set(only)


def write_report(study: Study, study_dir: Path) -> Path:
    """The study's report from whatever results exist: reproduction.md, accuracy.png (and against-null.png with a
    null configuration), claims.json."""
    with held_lock(study_dir / ".report.lock"):  # two study processes finishing at once take turns
        return _write_report(study, study_dir)


def _write_report(study: Study, study_dir: Path) -> Path:
    from seethink.report.plots import against_null_png
    from seethink.report.study import study_markdown, study_plot

    base, runs = load_results(study_dir)
    claims = evaluate_claims(study, base, runs)
    gains = against_null(study, runs)
    if gains:
        write_bytes(study_dir / "against-null.png", against_null_png(gains, study.control))
    plan = json.loads((study_dir / "plan.json").read_text()) if (study_dir / "plan.json").is_file() else {}
    planned = len(study.seeds) * len(plan.get("configurations_run", study.configurations))
    notes = study_dir / "notes.md"
    text = study_markdown(study, base, runs, claims, planned, notes.read_text() if notes.is_file() else "", gains)
    write_bytes(study_dir / "accuracy.png", study_plot(list(study.configurations), base, runs))
    write_text(study_dir / "reproduction.md", text)
    write_json(study_dir / "claims.json", claims)
    return study_dir / "reproduction.md"
