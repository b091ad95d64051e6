"""World build speed at two sizes, in one run: records per second should not fall as the world grows.

    python benchmarks/world_build.py                       # perception, 2,000 and 16,000 train records
    python benchmarks/world_build.py --sizes 2000 48000 --datasets perception visual_reasoning

A build renders every scene, encodes it as PNG and writes one file per image. Writing each image with a
per-file atomic write listed the whole image folder on every call (to clear stale temporaries), so the
build was quadratic in its size: 80 records/s at 48,000 perception records. The ratio printed last is
(records/s at the largest size) / (records/s at the smallest); goal: >= 0.8.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from seethink.miniature.world.build import build_world


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 16000], help="train records per dataset")
    ap.add_argument("--datasets", nargs="+", default=["perception"])
    args = ap.parse_args()
    rates = []
    tmp = Path(tempfile.mkdtemp(prefix="seethink-world-bench-"))
    try:
        for n in args.sizes:
            t = time.perf_counter()
            build_world(
                tmp / f"w{n}", seed=0, sizes={"train": n, "validation": 1, "test": 1}, datasets=tuple(args.datasets)
            )
            dt = time.perf_counter() - t
            records = (n + 2) * len(args.datasets)
            rates.append(records / dt)
            print(f"{records:>7} records ({', '.join(args.datasets)}): {dt:7.1f} s, {rates[-1]:7.0f} records/s")
            shutil.rmtree(tmp / f"w{n}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"records/s at {args.sizes[-1]} / at {args.sizes[0]}: {rates[-1] / rates[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
