"""`seethink experiment run STUDY.yaml` and `seethink experiment paper [--quick]`: studies made of many runs."""

from __future__ import annotations

from pathlib import Path

from seethink.cli.common import add_set, finite, positive
from seethink.errors import SeethinkError

PAPER = Path("experiments") / "paper" / "study.yaml"
PAPER_QUICK = Path("experiments") / "paper-quick" / "study.yaml"


def _shipped(path: Path) -> Path:
    from seethink.recipe import RECIPES_DIR

    for cand in (path, RECIPES_DIR.parent / path):
        if cand.is_file():
            return cand
    raise SeethinkError(f"{path} not found; run from a seethink checkout or use `seethink experiment run STUDY.yaml`")


def run(a, study: Path | None = None) -> None:
    from seethink.experiment import load_study, run_study, write_report

    study = study or Path(a.study)
    overrides = list(a.set)
    if a.seeds is not None:
        overrides.append(f"seeds={list(range(a.seeds))}")
    if a.step_scale is not None:
        overrides.append(f"step_scale={a.step_scale}")
    only = tuple(x.strip() for x in a.only.split(",")) if a.only else ()
    if a.report_only:
        out = Path(a.out) if a.out else study.resolve().parent
        if not (out / "results").is_dir():
            raise SeethinkError(f"{out}: no results/ folder; run the study first")
        print(f"report written to {write_report(load_study(study, overrides), out)}")
        return
    # no lock on the whole folder: run_study claims each (configuration, seed), so processes can share a study
    print(f"report written to {run_study(study, a.out, overrides, only, Path(a.world) if a.world else None)}")


def paper(a) -> None:
    run(a, _shipped(PAPER_QUICK if a.quick else PAPER))


def _common(p) -> None:
    p.add_argument("--out", help="folder for results/, runs/, world/ and the report (default: the study file's folder)")
    p.add_argument("--only", help="comma-separated configurations to run (default: all)")
    p.add_argument("--seeds", type=positive, help="number of seeds, 0..N-1 (default: the study's)")
    p.add_argument("--step-scale", type=finite, help="multiply every stage's steps (default: the study's)")
    p.add_argument("--world", help="use this world folder instead of building one under --out")
    p.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the finished runs; train nothing"
    )
    add_set(p, "override a study field, e.g. --set seeds=[0,1] (repeatable)")


def add_parsers(sub) -> None:
    xp = sub.add_parser("experiment", help="studies made of many runs")
    xsub = xp.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    rn = xsub.add_parser("run", help="run a study file: its configurations over seeds, with a verdict per claim")
    rn.add_argument("study", help="a study YAML (e.g. experiments/paper/study.yaml)")
    _common(rn)
    rn.set_defaults(func=run)
    pp = xsub.add_parser("paper", help="the paper's comparisons on the miniature (experiments/paper/study.yaml)")
    pp.add_argument(
        "--quick", action="store_true", help="experiments/paper-quick/study.yaml: 2 seeds, 1/5 of the steps"
    )
    _common(pp)
    pp.set_defaults(func=paper)
