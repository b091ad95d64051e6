"""Score a model on records: per-sample rows and per capability / family summaries."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from seethink.eval.generate import generate
from seethink.eval.metrics import bootstrap_ci
from seethink.rewards import score, think_span


def score_rows(records: list[dict], completions) -> list[dict]:
    rows = []
    for r, (c,) in zip(records, completions):
        s = score(c.text, r["answer"], r.get("options"))
        span = think_span(c.text)
        rows.append({"id": r["id"], "capability": r["capability"], "family": r.get("family", ""),
                     "problem": r["problem"], "answer": r["answer"], "completion": c.text,
                     "accuracy": s.accuracy, "format": s.format, "reward": s.total, "completion_tokens": c.n_tokens,
                     "think_chars": (span[1] - span[0]) if span else 0})
    return rows


def summarise(rows: list[dict], seed: int = 0) -> dict:
    """{"capability": {cap: stats}, "family": {cap/family: stats}} with accuracy CIs."""
    groups = {"capability": defaultdict(list), "family": defaultdict(list)}
    for row in rows:
        groups["capability"][row["capability"]].append(row)
        groups["family"][f"{row['capability']}/{row['family']}"].append(row)
    out = {}
    for level, g in groups.items():
        out[level] = {}
        for key in sorted(g):
            rs = g[key]
            acc = [r["accuracy"] for r in rs]
            lo, hi = bootstrap_ci(acc, seed=seed)
            toks = [r["completion_tokens"] for r in rs]
            out[level][key] = {"n": len(rs), "accuracy": float(np.mean(acc)), "ci95": [lo, hi],
                               "format": float(np.mean([r["format"] for r in rs])),
                               "mean_tokens": float(np.mean(toks)), "median_tokens": float(np.median(toks))}
    return out


def evaluate(model, processor, records: list[dict], max_new_tokens: int = 96, batch_size: int = 64,
             seed: int = 0) -> tuple[list[dict], dict]:
    completions = generate(model, processor, records, max_new_tokens=max_new_tokens, batch_size=batch_size,
                           seed=seed, desc="evaluating")
    rows = score_rows(records, completions)
    return rows, summarise(rows, seed)
