"""Peak memory of building a GRPO stage's dataset, by number of image rows (issue: every rank held every image).

    python benchmarks/stage_memory.py [--rows 1000 100000] [--eager-rows 1000 10000]

Each size is built in a fresh process (peak RSS is per process): `seethink.algorithms.grpo`'s dataset over records
whose images are PNG files on disk (64 distinct 448 x 448 images, repeated as the paper's stage 3 repeats them), then
every row is read once, as a trainer does over a stage. `--eager-rows` builds the same rows the way seethink did
before (images decoded into the table), for comparison. Prints rows, seconds and peak RSS in MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _images(folder: Path, n: int = 64) -> list[str]:
    from PIL import Image

    paths = []
    for i in range(n):
        p = folder / f"{i}.png"
        if not p.exists():
            Image.new("RGB", (448, 448), (i * 4 % 256, 80, 160)).save(p)
        paths.append(str(p))
    return paths


def _records(rows: int, images: list[str]) -> list[dict]:
    return [
        {
            "id": f"r{i}",
            "problem": f"How many objects are there? ({i})",
            "answer": "3",
            "capability": "visual_reasoning",
            "images": [images[i % len(images)]],
        }
        for i in range(rows)
    ]


def measure(rows: int, folder: Path, eager: bool) -> dict:
    from datasets import Dataset

    from seethink.algorithms import ALGORITHMS
    from seethink.prompting import prompt_messages
    from seethink.records.io import load_image

    records = _records(rows, _images(folder))
    t = time.time()
    if eager:
        ds = Dataset.from_list(
            [
                {
                    "prompt": prompt_messages(r),
                    "images": [load_image(p) for p in r["images"]],
                    "answer": r["answer"],
                    "id": r["id"],
                }
                for r in records
            ]
        )
    else:
        ds = ALGORITHMS["grpo"].dataset(records)
    built = time.time() - t
    for i in range(0, len(ds), 64):
        ds[i : i + 64]
    return {
        "rows": rows,
        "eager": eager,
        "build_s": round(built, 2),
        "read_s": round(time.time() - t - built, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1000, 100000])
    ap.add_argument("--eager-rows", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # rows folder eager: run one size in this process
    a = ap.parse_args()
    if a.one:
        print(json.dumps(measure(int(a.one[0]), Path(a.one[1]), a.one[2] == "1")))
        return
    with tempfile.TemporaryDirectory() as d:
        results = []
        for rows, eager in [(r, False) for r in a.rows] + [(r, True) for r in a.eager_rows]:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(rows), d, "1" if eager else "0"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'rows':>8} {'images':>8} {'build s':>8} {'read s':>8} {'peak RSS MB':>12}")
    for r in results:
        print(
            f"{r['rows']:>8} {'decoded' if r['eager'] else 'paths':>8} {r['build_s']:>8} {r['read_s']:>8}"
            f" {r['peak_rss_mb']:>12}"
        )
    lazy = [r for r in results if not r["eager"]]
    if len(lazy) >= 2:
        print(
            f"lazy: {lazy[-1]['rows']:,} rows peak {lazy[-1]['peak_rss_mb'] - lazy[0]['peak_rss_mb']:+} MB over "
            f"{lazy[0]['rows']:,} rows"
        )


if __name__ == "__main__":
    main()
