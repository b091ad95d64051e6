"""pass@K speed: batched (many items × K samples per generate call) vs one item at a time, in one run.

    python benchmarks/passk_speed.py                   # 64 visual-reasoning items, K = 8, the shipped base
    python benchmarks/passk_speed.py --items 128 --k 16 --chunk 32
    python benchmarks/passk_speed.py --random 1024x8     # a random 137M-parameter LLaVA instead (never stops
                                                         # early, so both sides generate every token)

The one-at-a-time loop is what the paper's scripts do (one generate call per item, its K samples in that
call). Both sides sample with the same per-call seeds where the item sets allow it, but a batched call
draws its random numbers for all items at once, so individual samples differ; the pass rates are compared
by mean absolute difference and by their means (they estimate the same quantity). Goal: speed-up >= 10x.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seethink.eval.passk import sample_correct
from seethink.miniature.base import base_path
from seethink.miniature.world.build import build_world
from seethink.models.load import load_model
from seethink.records.io import load_records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=32, help="items per generate call on the batched side")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--dataset", default="visual_reasoning")
    ap.add_argument("--random", metavar="WIDTHxLAYERS", help="a randomly initialised LLaVA with this decoder size")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    tmp = Path(tempfile.mkdtemp(prefix="seethink-passk-"))
    try:
        root = build_world(tmp / "world", seed=0, sizes={"train": args.items, "validation": 1, "test": 1})
        records = load_records(root / args.dataset, "train")[: args.items]
        if args.random:
            from seethink.miniature import tiny
            from seethink.miniature.sizes import SIZES, TinySize

            width, layers = map(int, args.random.split("x"))
            SIZES["bench"] = TinySize(hidden=width, layers=layers, heads=8, vision_hidden=128, vision_layers=2)
            processor = tiny.build_processor()
            model = tiny.build_model(processor, "bench").eval()
            name = f"random {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M-parameter LLaVA"
        else:
            model, processor = load_model(base_path())
            name = "shipped base"
        sample_correct(model, processor, records[:2], args.k, 0, 1.0, args.max_new_tokens)  # warm-up

        t = time.perf_counter()
        batched = []
        for start in range(0, len(records), args.chunk):
            batched += sample_correct(
                model, processor, records[start : start + args.chunk], args.k, start, 1.0, args.max_new_tokens
            )
        t_batched = time.perf_counter() - t

        t = time.perf_counter()
        single = []
        for i, r in enumerate(records):
            single += sample_correct(model, processor, [r], args.k, i, 1.0, args.max_new_tokens)
        t_single = time.perf_counter() - t

        a, b = np.array(batched) / args.k, np.array(single) / args.k
        n = len(records) * args.k
        print(
            f"{len(records)} {args.dataset} items x K={args.k} samples ({n} completions, "
            f"<= {args.max_new_tokens} new tokens), {name}, 2 threads"
        )
        print(f"  one item per call     {t_single:7.1f} s   {n / t_single:7.1f} completions/s")
        print(f"  {args.chunk:3d} items per call    {t_batched:7.1f} s   {n / t_batched:7.1f} completions/s")
        ratio = t_single / t_batched
        print(f"  speed-up              {ratio:7.1f}x   goal >= 10x: {'PASS' if ratio >= 10 else 'FAIL'}")
        print(
            f"  mean pass rate        batched {a.mean():.3f}  one-at-a-time {b.mean():.3f}  "
            f"mean |difference| per item {np.abs(a - b).mean():.3f}"
        )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
