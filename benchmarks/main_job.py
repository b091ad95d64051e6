"""The main job's acceptance (issue 17): the staged recipe over seeds, its shuffled-reward null beside it.

    python benchmarks/main_job.py                          # recipes/staged.yaml, seeds 0 1 2, and the null
    python benchmarks/main_job.py --seeds 0 --out runs/bench --recipe recipes/staged.yaml --set stages.0.lr=1e-5

Runs `seethink train RECIPE --set seed=S --set name=<name>-s<S>` and the same with `--null`, one run at a time,
then reads the run folders and prints, per run: greedy validation accuracy per capability at the start and after
each stage, wall time and peak RSS (kept in OUT/<run>.cost.json: a finished run is not rerun, so two invocations
pinned to one core each, `--which staged` and `--which null`, can share the work; a third prints the table).
Then checks:
  - the staged mean over the three capabilities rises >= 5 points over the base on average, >= 2 on every seed;
  - each stage raises its own capability >= 3 points on average (the gain over the stage before it);
  - no capability ends > 3 points below the base (seed average);
  - the null's mean gain stays below the staged run's (on average and on every seed).
Exits 1 if any check fails. Timings are for this machine, measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from statistics import fmean as mean

from seethink.fileio import write_json
from seethink.records.schema import CAPABILITIES
from seethink.report.runs import Run, load_run


def run_one(recipe: str, out: Path, name: str, seed: int, sets: list[str], null: bool) -> tuple[float, float]:
    """One `seethink train` in a child process: (wall seconds, peak RSS in GB of the child)."""
    cmd = (
        [
            sys.executable,
            "-m",
            "seethink",
            "train",
            recipe,
            "--set",
            f"seed={seed}",
            "--set",
            f"name={name}",
            "--set",
            f"output_dir={out}",
        ]
        + [x for s in sets for x in ("--set", s)]
        + (["--null"] if null else [])
    )
    print("+", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"main_job: {name} failed (exit {os.waitstatus_to_exitcode(status)})")
    return seconds, usage.ru_maxrss / 1024**2  # Linux: KiB


def accuracies(summary: dict) -> dict[str, float]:
    return {c: summary["capability"][c]["accuracy"] for c in CAPABILITIES}


def table(runs: dict[str, Run], cost: dict[str, tuple[float, float]]) -> None:
    head = "| run | point | " + " | ".join(CAPABILITIES) + " | mean | wall (s) | peak RSS (GB) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, run in runs.items():
        points = [("base", run.start)] + [(f"after {s.name}", s.eval) for s in run.stages]
        for k, (label, summ) in enumerate(points):
            acc = accuracies(summ)
            extra = f" {cost[name][0]:.0f} | {cost[name][1]:.2f} |" if k == len(points) - 1 else " | |"
            print(
                f"| {name} | {label} | "
                + " | ".join(f"{acc[c]:.3f}" for c in CAPABILITIES)
                + f" | {mean(acc.values()):.3f} |"
                + extra
            )


def checks(staged: list[Run], null: list[Run]) -> list[tuple[str, bool, str]]:
    def gain(run: Run) -> float:
        return mean(accuracies(run.final).values()) - mean(accuracies(run.start).values())

    gains, null_gains = [gain(r) for r in staged], [gain(r) for r in null]
    rows = [
        ("staged mean gain >= 5 points (seed average)", mean(gains) >= 0.05, f"{100 * mean(gains):+.1f}"),
        ("staged mean gain >= 2 points on every seed", min(gains) >= 0.02, " ".join(f"{100 * g:+.1f}" for g in gains)),
    ]
    for k, stage in enumerate(staged[0].stages):
        cap = stage.name  # a stage named after a capability trains it
        if cap not in CAPABILITIES:
            continue
        before = [accuracies(r.stages[k - 1].eval if k else r.start)[cap] for r in staged]
        after = [accuracies(r.stages[k].eval)[cap] for r in staged]
        d = mean(after) - mean(before)
        rows.append((f"stage {stage.name} raises {cap} >= 3 points", d >= 0.03, f"{100 * d:+.1f}"))
    for cap in CAPABILITIES:
        d = mean([accuracies(r.final)[cap] - accuracies(r.start)[cap] for r in staged])
        rows.append((f"{cap} ends no more than 3 points below the base", d >= -0.03, f"{100 * d:+.1f}"))
    if null:
        rows.append(
            (
                "null mean gain below staged (seed average)",
                mean(null_gains) < mean(gains),
                f"null {100 * mean(null_gains):+.1f} vs {100 * mean(gains):+.1f}",
            )
        )
        rows.append(
            (
                "null mean gain below staged on every seed",
                all(n < g for n, g in zip(null_gains, gains)),
                " ".join(f"{100 * n:+.1f}/{100 * g:+.1f}" for n, g in zip(null_gains, gains)),
            )
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/staged.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="runs/main-job")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument(
        "--which",
        choices=("both", "staged", "null"),
        default="both",
        help="run the recipe, its shuffled-reward control, or both (the table needs both)",
    )
    a = ap.parse_args()
    out = Path(a.out)
    base_name = Path(a.recipe).stem
    runs, cost, staged, null = {}, {}, [], []
    kinds = {"both": (False, True), "staged": (False,), "null": (True,)}[a.which]
    for seed in a.seeds:
        for is_null in kinds:
            name = f"{base_name}-s{seed}"
            key = name + ("-null" if is_null else "")
            saved = out / f"{key}.cost.json"
            if not saved.is_file():
                seconds, rss = run_one(a.recipe, out, name, seed, a.sets, is_null)
                write_json(saved, {"wall_seconds": seconds, "peak_rss_gb": rss})  # atomic: a killed run leaves no cost
            c = json.loads(saved.read_text())
            cost[key] = (c["wall_seconds"], c["peak_rss_gb"])
            runs[key] = load_run(out / key)
            (null if is_null else staged).append(runs[key])
    if a.which != "both":
        return
    print()
    table(runs, cost)
    print()
    rows = checks(staged, null)
    for what, ok, value in rows:
        print(f"{'PASS' if ok else 'FAIL'}  {what}: {value}")
    walls = [cost[k][0] for k in cost]
    print(
        f"\nwall per run: median {statistics.median(walls):.0f} s, max {max(walls):.0f} s; "
        f"peak RSS max {max(c[1] for c in cost.values()):.2f} GB"
    )
    sys.exit(0 if all(ok for _, ok, _ in rows) else 1)


if __name__ == "__main__":
    main()
