"""The plots of a report: training curves, accuracy with CIs, reasoning lengths, error attribution (PNG bytes)."""

from __future__ import annotations

import io

from seethink.records.schema import CAPABILITIES

CURVES = (("reward", "reward"), ("accuracy", "accuracy (sampled)"), ("completion_length", "completion tokens"))


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
    """The figure as PNG bytes; the figure is closed (pyplot keeps every open figure alive: a study's report, or a
    process writing many, would grow without bound)."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return buf.getvalue()


def run_plots(runs) -> dict[str, bytes]:
    """{file name: PNG} for the runs (`seethink.report.runs.Run`); the first run's starting model is a bar too."""
    bars = [("start", runs[0].start)] if runs[0].start else []
    bars += [(r.name, r.final) for r in runs if r.final]
    out = {"curves.png": curves_png(runs)}
    if any("val_mean" in r for run in runs for st in run.stages for r in st.metrics):
        out["validation.png"] = validation_png(runs)
    if bars:
        out["accuracy.png"] = accuracy_png(bars)
        out["lengths.png"] = lengths_png(bars)
    att = [
        (name, s["attribution"]["visual_reasoning"])
        for name, s in bars
        if s.get("attribution", {}).get("visual_reasoning")
    ]
    if att:
        out["attribution.png"] = attribution_png(att)
    return out


def _colours(plt) -> list[str]:
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _png(plt, fig) -> bytes:
    png = figure_png(fig)
    plt.close(fig)
    return png


def curves_png(runs) -> bytes:
    """Reward, sampled accuracy and completion length over the optimizer steps of every stage, end to end."""
    plt = pyplot()
    colours = _colours(plt)
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
            offset += max((r["step"] for r in s.metrics), default=0)
            for ax in axes:
                ax.axvline(offset, color=c, ls=":", lw=0.8)
            axes[0].annotate(
                s.name,
                (offset, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                fontsize=7,
                ha="right",
                va="top",
                color=c,
            )
    return _step_figure(
        plt,
        fig,
        axes,
        [label for _, label in CURVES],
        "training curves",
        "optimizer step (stages concatenated; dotted lines end a stage; 10-step mean)",
    )


def _step_figure(plt, fig, axes, labels: list[str], title: str, xlabel: str) -> bytes:
    """Label and finish a column of plots over the optimizer steps of a run's stages."""
    for ax, label in zip(axes, labels):
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(xlabel)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    return _png(plt, fig)


def validation_png(runs) -> bytes:
    """In-stage held-out accuracy (`eval.every`) per capability and its mean over the steps of every stage, end
    to end; a star marks the step a stage kept (`keep: best:<metric>`)."""
    plt = pyplot()
    colours = _colours(plt)
    keys = ["val_mean"] + [
        f"val_{c}"
        for c in CAPABILITIES
        if any(f"val_{c}" in r for run in runs for st in run.stages for r in st.metrics)
    ]
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, 2.3 * len(keys)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for i, run in enumerate(runs):
        offset, c = 0, colours[i % len(colours)]
        for s in run.stages:
            rows = [r for r in s.metrics if "val_mean" in r]
            kept = (run.kept or {}).get(s.name)
            for ax, key in zip(axes, keys):
                pts = [(offset + r["step"], r[key]) for r in rows if key in r]
                if pts:
                    ax.plot(*zip(*pts), color=c, lw=1.2, marker=".", label=run.name if s is run.stages[0] else None)
                star = [(offset + r["step"], r[key]) for r in rows if key in r and kept and r["step"] == kept["step"]]
                if star:
                    ax.plot(*star[0], marker="*", ms=12, color=c)
            offset += max((r["step"] for r in s.metrics), default=0)
            for ax in axes:
                ax.axvline(offset, color=c, ls=":", lw=0.8)
    return _step_figure(
        plt,
        fig,
        axes,
        [k[len("val_") :].replace("_", " ") for k in keys],
        "held-out accuracy during training (greedy)",
        "optimizer step (stages concatenated; dotted lines end a stage; * the step a stage kept)",
    )


def _slots(bars: list, colours: list[str]):
    """x positions of bar group member j across the capabilities, and its colour (the start model is grey)."""
    width = 0.8 / len(bars)
    first_run = 1 if bars[0][0] == "start" else 0

    def slot(j: int) -> tuple[list[float], str]:
        xs = [k + (j - (len(bars) - 1) / 2) * width for k in range(len(CAPABILITIES))]
        return xs, "lightgrey" if j < first_run else colours[(j - first_run) % len(colours)]

    return width, slot


def accuracy_png(bars: list[tuple[str, dict]]) -> bytes:
    plt = pyplot()
    width, slot = _slots(bars, _colours(plt))
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(CAPABILITIES)), 3.8))
    for j, (name, summary) in enumerate(bars):
        caps = [summary["capability"].get(c) for c in CAPABILITIES]
        xs, colour = slot(j)
        ys = [s["accuracy"] if s else float("nan") for s in caps]  # not evaluated: no bar
        err = [
            [s["accuracy"] - s["ci95"][0] if s else 0 for s in caps],
            [s["ci95"][1] - s["accuracy"] if s else 0 for s in caps],
        ]
        ax.bar(xs, ys, width, yerr=err, capsize=3, label=name, color=colour)
    ax.set_xticks(range(len(CAPABILITIES)), [c.replace("_", " ") for c in CAPABILITIES])
    ax.set_ylabel("held-out accuracy (95% CI)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=min(4, len(bars)))
    ax.grid(axis="y", alpha=0.3)
    return _png(plt, fig)


def lengths_png(bars: list[tuple[str, dict]]) -> bytes:
    plt = pyplot()
    width, slot = _slots(bars, _colours(plt))
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
    return _png(plt, fig)


def attribution_png(att: list[tuple[str, dict]]) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(att) + 2), 3.6))
    names = [n for n, _ in att]
    perc = [a["perception"] for _, a in att]
    ax.bar(names, perc, label="perception", color="#d62728")
    ax.bar(names, [a["reasoning"] for _, a in att], bottom=perc, label="reasoning", color="#1f77b4")
    for k, (_, a) in enumerate(att):
        ax.annotate(
            f"{a['perception_share']:.0%}",
            (k, a["perception"] / 2),
            ha="center",
            va="center",
            color="white",
            fontsize=9,
        )
    ax.set_ylabel("wrong visual-reasoning answers")
    ax.set_title("error attribution (label: perception share)", fontsize=10)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=8, rotation=20)
    return _png(plt, fig)


def study_png(configurations: list[str], base: dict | None, runs: dict[str, dict[int, dict]]) -> bytes:
    """Held-out accuracy per capability of the base and every configuration: bars the mean, dots the seeds."""
    import numpy as np

    plt = pyplot()
    names = (["base"] if base else []) + [c for c in configurations if c in runs]
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(names) + 2), 4))
    width = 0.8 / len(CAPABILITIES)
    colours = _colours(plt)
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
    return _png(plt, fig)


def against_null_png(gains: dict[str, dict], null: str) -> bytes:
    """Each configuration's average held-out accuracy minus the null's, paired by seed: the mean (bar) and, with two
    seeds or more, the 95% CI of `seethink.eval.claims.against_null` (whisker: seeds and, where rows keep them,
    test records). At 0: no better than training on shuffled rewards."""
    plt = pyplot()
    names = list(gains)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names) + 2), 3.6))
    for i, name in enumerate(names):
        g = gains[name]
        ax.bar(i, 100 * g["mean"], 0.6, color=_colours(plt)[0], alpha=0.7)
        if g["ci95"]:
            lo, hi = (100 * v for v in g["ci95"])
            ax.errorbar(
                i, 100 * g["mean"], yerr=[[100 * g["mean"] - lo], [hi - 100 * g["mean"]]], color="black", capsize=4
            )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"average accuracy − {null} (points)")
    ax.set_title("gain over the shuffled-reward null, paired by seed (95% CI)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return _png(plt, fig)
