"""`seethink report RUN [RUN …] --out DIR`: a Markdown report with PNG plots, readable without running anything.

    report.md          side-by-side table of runs, per-stage held-out numbers, the plots
    curves.png         reward, accuracy and completion length over training steps (stages marked)
    accuracy.png       final held-out accuracy per capability per run, with 95% CIs (and the start model)
    lengths.png        mean completion and <think> tokens per capability per run
    attribution.png    wrong visual-reasoning answers by cause (perception / reasoning) per run

Everything is read from run folders (`seethink train` writes them); nothing is recomputed.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seethink.errors import SeethinkError
from seethink.fileio import ensure_dir, write_bytes, write_text

CAPABILITIES = ("perception", "text_reasoning", "visual_reasoning")
CURVES = (("reward", "reward"), ("accuracy", "accuracy (sampled)"), ("completion_length", "completion tokens"))


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

    @property
    def final(self) -> dict | None:
        done = [s.eval for s in self.stages if s.eval]
        return done[-1] if done else None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SeethinkError(f"{path}: malformed JSON ({e.msg})") from None


def load_run(path: str | Path) -> Run:
    p = Path(path)
    if not (p / "recipe.yaml").is_file():
        raise SeethinkError(f"{p} is not a seethink run folder (no recipe.yaml)")
    recipe = yaml.safe_load((p / "recipe.yaml").read_text())
    start = p / "eval" / "start" / "summary.json"
    run = Run(recipe.get("name", p.name), p, _read_json(start) if start.is_file() else None)
    for k, st in enumerate(recipe.get("stages", []), 1):
        d = p / "stages" / f"{k}-{st['name']}"
        metrics = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines() if line.strip()] \
            if (d / "metrics.jsonl").is_file() else []
        ev = _read_json(d / "eval" / "summary.json") if (d / "eval" / "summary.json").is_file() else None
        timing = _read_json(d / "timing.json")["seconds"] if (d / "timing.json").is_file() else None
        run.stages.append(StageResult(st["name"], st.get("algorithm", "grpo"), metrics, ev, timing))
    return run


def _smooth(y: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(y):
        acc += v
        if i >= window:
            acc -= y[i - window]
        out.append(acc / min(i + 1, window))
    return out


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _plots(runs: list[Run]) -> dict[str, bytes]:
    plt = pyplot()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    out = {}

    fig, axes = plt.subplots(len(CURVES), 1, figsize=(9, 2.6 * len(CURVES)), sharex=True)
    for i, run in enumerate(runs):
        offset, c, label = 0, colours[i % len(colours)], run.name
        for s in run.stages:
            rows = [r for r in s.metrics if "reward" in r]  # GRPO stages; SFT stages only mark their span
            for ax, (key, _) in zip(axes, CURVES):
                xs = [offset + r["step"] for r in rows if key in r]
                ys = [r[key] for r in rows if key in r]
                if xs:
                    ax.plot(xs, _smooth(ys, 10), color=c, lw=1.4, label=label if ax is axes[0] else None)
            if rows:
                label = None  # one legend entry per run
            steps = max((r["step"] for r in s.metrics), default=0)
            offset += steps
            for ax in axes:
                ax.axvline(offset, color=c, ls=":", lw=0.8)
            axes[0].annotate(s.name, (offset, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                             ha="right", va="top", color=c)
    for ax, (_, label) in zip(axes, CURVES):
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("optimizer step (stages concatenated; dotted lines end a stage; 10-step mean)")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("training curves")
    out["curves.png"] = figure_png(fig)
    plt.close(fig)

    bars = [("start", runs[0].start)] if runs[0].start else []  # the first run's starting model
    bars += [(r.name, r.final) for r in runs if r.final]
    if bars:
        width = 0.8 / len(bars)
        first_run = 1 if bars[0][0] == "start" else 0

        def slot(j: int) -> tuple[list[float], str]:
            """x positions of bar group member j across the capabilities, and its colour."""
            xs = [k + (j - (len(bars) - 1) / 2) * width for k in range(len(CAPABILITIES))]
            return xs, "lightgrey" if j < first_run else colours[(j - first_run) % len(colours)]

        fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(CAPABILITIES)), 3.8))
        for j, (name, summary) in enumerate(bars):
            caps = [summary["capability"].get(c) for c in CAPABILITIES]
            xs, colour = slot(j)
            ys = [s["accuracy"] if s else float("nan") for s in caps]  # not evaluated: no bar
            err = [[s["accuracy"] - s["ci95"][0] if s else 0 for s in caps],
                   [s["ci95"][1] - s["accuracy"] if s else 0 for s in caps]]
            ax.bar(xs, ys, width, yerr=err, capsize=3, label=name, color=colour)
        ax.set_xticks(range(len(CAPABILITIES)), [c.replace("_", " ") for c in CAPABILITIES])
        ax.set_ylabel("held-out accuracy (95% CI)")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, ncol=min(4, len(bars)))
        ax.grid(axis="y", alpha=0.3)
        out["accuracy.png"] = figure_png(fig)
        plt.close(fig)

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        for ax, (key, title) in zip(axes, (("mean_tokens", "whole completion"), ("mean_think_tokens", "<think> part"))):
            for j, (name, summary) in enumerate(bars):
                xs, colour = slot(j)
                ys = [summary["capability"].get(c, {}).get(key, float("nan")) for c in CAPABILITIES]
                ax.bar(xs, ys, width, label=name, color=colour)
            ax.set_xticks(range(len(CAPABILITIES)), [c.replace("_", "\n") for c in CAPABILITIES], fontsize=8)
            ax.set_title(title, fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_ylabel("mean tokens (held-out, greedy)")
        axes[1].legend(fontsize=8)
        out["lengths.png"] = figure_png(fig)
        plt.close(fig)

    att = [(name, s["attribution"]["visual_reasoning"]) for name, s in bars
           if s.get("attribution", {}).get("visual_reasoning")]
    if att:
        fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(att) + 2), 3.6))
        names = [n for n, _ in att]
        perc = [a["perception"] for _, a in att]
        reas = [a["reasoning"] for _, a in att]
        ax.bar(names, perc, label="perception", color="#d62728")
        ax.bar(names, reas, bottom=perc, label="reasoning", color="#1f77b4")
        for k, (_, a) in enumerate(att):
            ax.annotate(f"{a['perception_share']:.0%}", (k, a["perception"] / 2), ha="center", va="center",
                        color="white", fontsize=9)
        ax.set_ylabel("wrong visual-reasoning answers")
        ax.set_title("error attribution (label: perception share)", fontsize=10)
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelsize=8, rotation=20)
        out["attribution.png"] = figure_png(fig)
        plt.close(fig)
    return out


def _cell(summary: dict | None, cap: str) -> str:
    s = (summary or {}).get("capability", {}).get(cap)
    return "–" if not s else f"{s['accuracy']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"


def _markdown(runs: list[Run], plots: dict[str, bytes]) -> str:
    lines = ["# seethink report", "", "Runs: " + ", ".join(f"`{r.path}`" for r in runs), "",
             "## Runs side by side (final stage, held-out split, greedy)", "",
             "| run | stages | steps | train time (s) | " + " | ".join(CAPABILITIES) +
             " | mean think tokens | VR errors from perception |",
             "|---|---|---|---|" + "---|" * len(CAPABILITIES) + "---|---|"]
    rows = ([("start", "–", "–", "–", runs[0].start)] if runs[0].start else [])
    for r in runs:
        steps = sum(max((m["step"] for m in s.metrics), default=0) for s in r.stages)
        secs = sum(s.seconds or 0 for s in r.stages)
        rows.append((r.name, " → ".join(s.name for s in r.stages), str(steps), f"{secs:.0f}", r.final))
    for name, stages, steps, secs, summary in rows:
        summary = summary or {}
        think = [summary["capability"][c]["mean_think_tokens"] for c in CAPABILITIES
                 if c in summary.get("capability", {}) and "mean_think_tokens" in summary["capability"][c]]
        att = summary.get("attribution", {}).get("visual_reasoning")
        share = "–" if not att or not att["errors"] else \
            f"{att['perception_share']:.0%} ({att['perception']}/{att['errors']})"
        think_cell = f"{sum(think) / len(think):.1f}" if think else "–"
        lines.append(f"| {name} | {stages} | {steps} | {secs} | " + " | ".join(_cell(summary, c) for c in CAPABILITIES)
                     + f" | {think_cell} | {share} |")
    for r in runs:
        lines += ["", f"## {r.name}: after each stage", "", "| after | " + " | ".join(CAPABILITIES) + " | seconds |",
                  "|---|" + "---|" * len(CAPABILITIES) + "---|"]
        if r.start:
            lines.append("| start | " + " | ".join(_cell(r.start, c) for c in CAPABILITIES) + " | – |")
        for s in r.stages:
            lines.append(f"| {s.name} ({s.algorithm}) | " + " | ".join(_cell(s.eval, c) for c in CAPABILITIES)
                         + f" | {s.seconds if s.seconds is not None else '–'} |")
    titles = {"curves.png": "Training curves", "accuracy.png": "Held-out accuracy",
              "lengths.png": "Reasoning length", "attribution.png": "Error attribution"}
    for name, title in titles.items():
        if name in plots:
            lines += ["", f"## {title}", "", f"![{title}]({name})"]
    return "\n".join(lines) + "\n"


def write_report(run_paths: list[str | Path], out: str | Path) -> Path:
    runs = [load_run(p) for p in run_paths]  # every run is checked before anything is written
    out = ensure_dir(out, "report folder")
    plots = _plots(runs)
    for name, data in plots.items():
        write_bytes(out / name, data)
    write_text(out / "report.md", _markdown(runs, plots))
    return out / "report.md"
