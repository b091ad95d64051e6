"""Sampled accuracy against greedy accuracy on the same records, with a paired bootstrap interval of their ratio.

    seethink eval MODEL --data W --split validation --limit 500 --samples 8 --out E
    python benchmarks/sampled_ratio.py E [E ...] [--boot 2000] [--json R.json]

E is the output of `seethink eval --samples K`: every record has its greedy answer's accuracy and how many of K
answers sampled at T = 1 were right. Per capability the script prints greedy accuracy, sampled accuracy (the mean
over the K samples: what a GRPO rollout earns) and their ratio, with a percentile bootstrap 95% interval of the
ratio that resamples records, so greedy and sampled stay paired. Gate G3 of docs/experiments/base-v5-pilots.md
(amended 2026-12-08) reads the ratio's point estimate against 0.75; the interval is reported beside it.
Model-free: it only reads the eval's files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from seethink.cli.common import positive
from seethink.fileio import write_json


def ratio(greedy, sampled, boot: int = 2000, seed: int = 0) -> dict:
    """Greedy accuracy, sampled accuracy (fractions per record) and sampled / greedy with a paired bootstrap 95% CI."""
    g, s = np.asarray(greedy, dtype=float), np.asarray(sampled, dtype=float)
    idx = np.random.default_rng(seed).integers(0, g.size, size=(boot, g.size))
    gm, sm = g[idx].mean(axis=1), s[idx].mean(axis=1)
    draws = np.divide(sm, gm, out=np.full(boot, np.nan), where=gm > 0)
    lo, hi = np.nanquantile(draws, [0.025, 0.975]) if np.isfinite(draws).any() else (np.nan, np.nan)
    point = s.mean() / g.mean() if g.mean() > 0 else float("nan")
    return {"n": int(g.size), "greedy": g.mean(), "sampled": s.mean(), "ratio": point, "ci": [float(lo), float(hi)]}


def read(folder: Path, boot: int = 2000) -> dict[str, dict]:
    """Per capability: `ratio` of the folder's samples; raises ValueError naming the file when it lacks samples."""
    samples, summary = folder / "samples.jsonl", folder / "summary.json"
    if not samples.is_file() or not summary.is_file():
        raise ValueError(f"{folder}: no samples.jsonl / summary.json (give a `seethink eval --samples K` output)")
    try:
        caps = json.loads(summary.read_text()).get("capability", {})
        rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, AttributeError) as e:
        raise ValueError(f"{folder}: summary.json or samples.jsonl is not a `seethink eval` output ({e})") from None
    by: dict[str, tuple[list, list]] = {}
    for row in rows:
        k = caps.get(row.get("capability"), {}).get("k")
        if not k or not {"sampled_correct", "accuracy"} <= row.keys():
            raise ValueError(f"{samples}: {row.get('id')} has no sampled answers (was the eval run with --samples K?)")
        g, s = by.setdefault(row["capability"], ([], []))
        g.append(float(row["accuracy"]))
        s.append(row["sampled_correct"] / k)
    return {cap: ratio(*gs, boot=boot) for cap, gs in sorted(by.items())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("evals", nargs="+", type=Path, help="`seethink eval --samples K` output folders")
    ap.add_argument("--boot", type=positive, default=2000, help="bootstrap draws (default 2000)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    result = {}
    for folder in a.evals:
        try:
            result[str(folder)] = table = read(folder, a.boot)
        except ValueError as e:
            print(f"sampled_ratio: {e}", file=sys.stderr)
            return 2
        for cap, r in table.items():
            print(
                f"{folder}  {cap:17s} n={r['n']:4d}  greedy {r['greedy']:.3f}  sampled {r['sampled']:.3f}  "
                f"sampled/greedy {r['ratio']:.3f}  95% CI [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
            )
    if a.json:
        write_json(a.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
