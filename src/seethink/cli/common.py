"""What every verb group of the command line shares: argument types and the tables it prints."""

from __future__ import annotations

import argparse
from pathlib import Path


def int_at_least(low: int):
    """An argparse type: a whole number >= low."""

    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(
                f"must be > {low - 1}, got {v}" if low == 1 else f"must be >= {low}, got {v}"
            )
        return v

    return parse


positive, nonneg = int_at_least(1), int_at_least(0)


def finite(s: str) -> float:
    """An argparse type: a finite number (nan and inf pass float() and fail much later, inside sampling)."""
    import math

    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {s!r}")
    return v


def split_name(s: str) -> str:
    """An argparse type: a split name (a file name in a dataset folder; no path, no leading dot)."""
    from seethink.errors import SeethinkError
    from seethink.records.schema import check_split_name

    try:
        return check_split_name(s, "split")
    except SeethinkError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("split: ")) from None


def add_set(
    parser: argparse.ArgumentParser, help: str = "override a recipe field, e.g. --set stages.0.steps=2 (repeatable)"
):
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def endpoint_summary(*models) -> None:
    """One line per OpenAI-compatible tool model the command used: requests, retries, failures."""
    from seethink.models.endpoint import usage_lines

    for line in usage_lines(*models):
        print(line)


def console():
    from rich.console import Console

    return Console(width=max(Console().width, 110))  # pipes default to 80 columns, too narrow for the tables


def print_summary(summary: dict, out: Path) -> None:
    """An evaluation summary (`seethink.eval.evaluate`) as a table, then its attribution, if any."""
    from rich.table import Table

    table = Table(title=f"{summary['model']} on {summary['data']} [{summary['split']}]")
    k = summary.get("sampling", {}).get("k")
    sampled = ("sampled", f"pass@{k}") if k else ()
    for col in ("capability / family", "n", "accuracy", "95% CI", *sampled, "prior", "format", "tokens", "think"):
        table.add_column(col)
    for key, s in list(summary["capability"].items()) + list(summary["family"].items()):
        prior = summary["prior"].get(key)
        table.add_row(
            key,
            str(s["n"]),
            f"{s['accuracy']:.3f}",
            f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]",
            *((f"{s['sampled_accuracy']:.3f}", f"{s['pass_at_k']:.3f}") if k else ()),
            "" if prior is None else f"{prior:.3f}",
            f"{s['format']:.3f}",
            f"{s['mean_tokens']:.1f}",
            f"{s['mean_think_tokens']:.1f}",
        )
    console().print(table)
    if "attribution" in summary:
        print_attribution(summary["attribution"])
    n = sum(s["n"] for s in summary["capability"].values())
    print(
        f"{n} samples in {summary['seconds']}s ({summary['samples_per_second']}/s); "
        f"written to {out}/samples.jsonl and {out}/summary.json"
    )


def print_attribution(att: dict) -> None:
    from rich.table import Table

    table = Table(title="wrong answers by cause")
    for col in ("capability", "errors", "perception", "reasoning", "unattributed", "perception share"):
        table.add_column(col, no_wrap=True)
    for key, s in att.items():
        lo, hi = s["perception_share_ci95"]
        table.add_row(
            key,
            str(s["errors"]),
            str(s["perception"]),
            str(s["reasoning"]),
            str(s["unattributed"]),
            f"{s['perception_share']:.2f} [{lo:.2f}, {hi:.2f}]",
        )
    console().print(table)
