"""Pretraining benchmark: examples/s, peak memory, and the base's held-out numbers against answer priors.

    python benchmarks/pretrain.py                      # the default base (same settings as `seethink pretrain`)
    python benchmarks/pretrain.py --size small         # compare model sizes at the same step budget
    python benchmarks/pretrain.py --model PATH         # only evaluate an existing base (e.g. the shipped one)

Prints one table; the acceptance targets for the base (issue 2) are checked and shown as PASS/FAIL.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from seethink.eval.evaluate import evaluate_folder
from seethink.models.pretrain import pretrain
from seethink.models.pretrain_config import PretrainConfig
from seethink.world.build import build_world


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def targets(summary: dict) -> list[tuple[str, bool, str]]:
    cap, fam, prior = summary["capability"], summary["family"], summary["prior"]
    fmt = min(v["format"] for v in cap.values())
    per = cap["perception"]["accuracy"]
    count = fam["perception/count"]["accuracy"] - prior["perception/count"]
    rows = [("format >= 95% on every capability", fmt >= 0.95, f"{fmt:.3f}"),
            ("perception MCQ accuracy in [40%, 80%]", 0.40 <= per <= 0.80, f"{per:.3f}"),
            ("count MCQ >= prior + 15 points", count >= 0.15, f"{count * 100:+.1f} points")]
    for c in ("text_reasoning", "visual_reasoning"):
        acc = cap[c]["accuracy"]
        best_prior = max(v for k, v in prior.items() if k.startswith(c + "/"))
        ok = acc > best_prior and acc <= 0.80
        rows.append((f"{c}: above prior and <= 80%", ok, f"{acc:.3f} (best family prior {best_prior:.3f})"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="evaluate this base instead of training one")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--steps", type=int, default=PretrainConfig.steps)
    ap.add_argument("--out", help="where to keep the trained base (default: a temporary folder)")
    ap.add_argument("--test", type=int, default=700, help="test records per capability")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    tmp = Path(tempfile.mkdtemp(prefix="seethink-bench-"))
    world = build_world(tmp / "world", seed=0, sizes={"train": 2000, "validation": 10, "test": args.test})
    stats = {}
    if args.model:
        model = Path(args.model)
    else:
        model = Path(args.out or tmp / "base")
        t = time.time()
        pretrain(model, PretrainConfig(size=args.size, steps=args.steps))
        stats = json.loads((model / "pretrain_stats.json").read_text())
        stats["wall_seconds"] = round(time.time() - t, 1)
    summary = evaluate_folder(model, world, "test", tmp / "eval")
    print("\n== pretraining")
    for k in ("params", "examples", "data_seconds", "train_seconds", "wall_seconds", "examples_per_second", "final_loss"):
        if k in stats:
            print(f"{k:>22}: {stats[k]}")
    print(f"{'peak RSS (GB)':>22}: {peak_rss_gb():.2f}")
    print("\n== held-out accuracy vs answer-prior baseline (test split)")
    for key, s in summary["family"].items():
        print(f"{key:>32}: {s['accuracy']:.3f}  prior {summary['prior'].get(key, float('nan')):.3f}  format {s['format']:.3f}")
    print("\n== targets")
    ok = True
    for name, passed, value in targets(summary):
        ok &= passed
        print(f"  [{'PASS' if passed else 'FAIL'}] {name}: {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
