"""`seethink report RUN [RUN …] --out DIR`: a Markdown report with PNG plots, readable without running anything.

    report.md          side-by-side table of runs, per-stage held-out numbers, the plots
    curves.png         reward, accuracy and completion length over training steps (stages marked)
    accuracy.png       final held-out accuracy per capability per run, with 95% CIs (and the start model)
    lengths.png        mean completion and <think> tokens per capability per run
    attribution.png    wrong visual-reasoning answers by cause (perception / reasoning) per run
    validation.png     in-stage held-out accuracy over training steps (recipes with eval.every)

Everything is read from run folders (`seethink train` writes them); nothing is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seethink.configs import read_yaml
from seethink.errors import SeethinkError
from seethink.fileio import ensure_dir, read_json, read_jsonl, write_bytes, write_text
from seethink.records.schema import CAPABILITIES
from seethink.report.plots import run_plots


@dataclass
class StageResult:
    name: str
    algorithm: str
    metrics: list[dict]
    eval: dict | None
    seconds: float | None


@dataclass
class Run:
    name: str
    path: Path
    start: dict | None
    stages: list[StageResult] = field(default_factory=list)
    kept: dict | None = None
    """{stage: {step, metric, value}} for stages that kept their best in-stage evaluation (recipe.yaml's `kept`)."""

    @property
    def final(self) -> dict | None:
        done = [s.eval for s in self.stages if s.eval]
        return done[-1] if done else None


def _read_json(path: Path):
    data = read_json(path, "run file")
    if not isinstance(data, dict):
        raise SeethinkError(f"run file {path}: expected a JSON object")
    return data


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _summary(path: Path) -> dict:
    """An evaluation summary, checked for the fields the report reads (a hand-edited or foreign file is one line)."""
    s = _read_json(path)

    def bad(field: str):
        raise SeethinkError(f"run file {path}: {field}: not as `seethink eval` writes it")

    caps = s.get("capability")
    if not isinstance(caps, dict):
        bad("capability")
    for c, v in caps.items():
        ci = v.get("ci95") if isinstance(v, dict) else None
        if not (
            isinstance(v, dict)
            and _number(v.get("accuracy"))
            and isinstance(ci, list)
            and len(ci) == 2
            and all(map(_number, ci))
            and all(_number(x) for k, x in v.items() if k.startswith("mean_"))
        ):
            bad(f"capability.{c}")
    att = s.get("attribution", {})
    fields = ("errors", "perception", "reasoning", "perception_share")
    if not isinstance(att, dict) or not all(
        isinstance(a, dict) and all(_number(a.get(k)) for k in fields) for a in att.values()
    ):
        bad("attribution")
    return s


def _metrics(path: Path) -> list[dict]:
    """Training-log rows: each needs a whole-number `step`; values that are not numbers are not plotted."""
    rows = []
    for r in read_jsonl(path, "metrics file"):
        if not isinstance(r, dict) or not isinstance(r.get("step"), int) or isinstance(r["step"], bool):
            raise SeethinkError(f"metrics file {path}: a row without a whole-number step")
        rows.append({k: v for k, v in r.items() if _number(v)})
    return rows


def load_run(path: str | Path) -> Run:
    p = Path(path)
    if not (p / "recipe.yaml").is_file():
        raise SeethinkError(f"{p} is not a seethink run folder (no recipe.yaml)")
    recipe = read_yaml(p / "recipe.yaml", "run recipe")
    if not isinstance(recipe.get("stages", []), list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) for s in recipe.get("stages", [])
    ):
        raise SeethinkError(f"{p / 'recipe.yaml'}: stages: expected a list of stages with names")
    start = p / "eval" / "start" / "summary.json"
    kept = recipe.get("kept")
    if kept is not None and not (
        isinstance(kept, dict) and all(isinstance(v, dict) and isinstance(v.get("step"), int) for v in kept.values())
    ):
        raise SeethinkError(f"{p / 'recipe.yaml'}: kept: expected stage names mapped to their kept step")
    run = Run(str(recipe.get("name", p.name)), p, _summary(start) if start.is_file() else None, kept=kept)
    for k, st in enumerate(recipe.get("stages", []), 1):
        d = p / "stages" / f"{k}-{st['name']}"
        metrics = _metrics(d / "metrics.jsonl") if (d / "metrics.jsonl").is_file() else []
        ev = _summary(d / "eval" / "summary.json") if (d / "eval" / "summary.json").is_file() else None
        timing = _read_json(d / "timing.json").get("seconds") if (d / "timing.json").is_file() else None
        if timing is not None and not _number(timing):
            raise SeethinkError(f"run file {d / 'timing.json'}: seconds: expected a number")
        run.stages.append(StageResult(st["name"], str(st.get("algorithm", "grpo")), metrics, ev, timing))
    return run


def _cell(summary: dict | None, cap: str) -> str:
    s = (summary or {}).get("capability", {}).get(cap)
    return "–" if not s else f"{s['accuracy']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"


def _side_by_side_row(name: str, stages: str, steps: str, secs: str, summary: dict) -> str:
    think = [
        summary["capability"][c]["mean_think_tokens"]
        for c in CAPABILITIES
        if c in summary.get("capability", {}) and "mean_think_tokens" in summary["capability"][c]
    ]
    att = summary.get("attribution", {}).get("visual_reasoning")
    share = (
        "–" if not att or not att["errors"] else f"{att['perception_share']:.0%} ({att['perception']}/{att['errors']})"
    )
    think_cell = f"{sum(think) / len(think):.1f}" if think else "–"
    return (
        f"| {name} | {stages} | {steps} | {secs} | "
        + " | ".join(_cell(summary, c) for c in CAPABILITIES)
        + f" | {think_cell} | {share} |"
    )


def _markdown(runs: list[Run], plots: dict[str, bytes]) -> str:
    lines = [
        "# seethink report",
        "",
        "Runs: " + ", ".join(f"`{r.path}`" for r in runs),
        "",
        "## Runs side by side (final stage, held-out split, greedy)",
        "",
        "| run | stages | steps | train time (s) | "
        + " | ".join(CAPABILITIES)
        + " | mean think tokens | VR errors from perception |",
        "|---|---|---|---|" + "---|" * len(CAPABILITIES) + "---|---|",
    ]
    rows = [("start", "–", "–", "–", runs[0].start)] if runs[0].start else []
    for r in runs:
        steps = sum(max((m["step"] for m in s.metrics), default=0) for s in r.stages)
        secs = sum(s.seconds or 0 for s in r.stages)
        rows.append((r.name, " → ".join(s.name for s in r.stages), str(steps), f"{secs:.0f}", r.final))
    for name, stages, steps, secs, summary in rows:
        lines.append(_side_by_side_row(name, stages, steps, secs, summary or {}))
    for r in runs:
        lines += [
            "",
            f"## {r.name}: after each stage",
            "",
            "| after | " + " | ".join(CAPABILITIES) + " | seconds |",
            "|---|" + "---|" * len(CAPABILITIES) + "---|",
        ]
        if r.start:
            lines.append("| start | " + " | ".join(_cell(r.start, c) for c in CAPABILITIES) + " | – |")
        for s in r.stages:
            lines.append(
                f"| {s.name} ({s.algorithm}) | "
                + " | ".join(_cell(s.eval, c) for c in CAPABILITIES)
                + f" | {s.seconds if s.seconds is not None else '–'} |"
            )
    titles = {
        "curves.png": "Training curves",
        "validation.png": "Held-out accuracy during training",
        "accuracy.png": "Held-out accuracy",
        "lengths.png": "Reasoning length",
        "attribution.png": "Error attribution",
    }
    for name, title in titles.items():
        if name in plots:
            lines += ["", f"## {title}", "", f"![{title}]({name})"]
    return "\n".join(lines) + "\n"


def write_report(run_paths: list[str | Path], out: str | Path) -> Path:
    runs = [load_run(p) for p in run_paths]  # every run is checked before anything is written
    out = ensure_dir(out, "report folder")
    plots = run_plots(runs)
    for name, data in plots.items():
        write_bytes(out / name, data)
    write_text(out / "report.md", _markdown(runs, plots))
    return out / "report.md"
