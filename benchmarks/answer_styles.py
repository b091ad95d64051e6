"""The answer styles of a run's greedy evaluations: how many answers are careless, how right, how long.

    python benchmarks/answer_styles.py RUN [RUN ...]       # `seethink train` run folders (or study runs)

The miniature's bases answer in styles told apart by how their reasoning opens (`seethink.miniature.pretrain.
style_of`): worked, `Guess:` (perception), `Quick:` (visual reasoning), `Answer:` (bare answers to word problems).
For each run, at every evaluation it holds (the start, after each stage, final evaluations), per capability: the
share of greedy answers in each style, their accuracy and their mean `<think>` tokens. RL on these bases mostly
moves answers from a careless style to the worked one, and a trace-length difference between two runs is mostly a
difference in that share; this script separates the two.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seethink.miniature.pretrain import styles_in


def evaluations(run: Path) -> list[tuple[str, Path]]:
    """(label, samples.jsonl) of every evaluation in a run folder, in the order they were made."""
    found = [("start", run / "eval" / "start" / "samples.jsonl")]
    found += [(f"after {d.name}", d / "eval" / "samples.jsonl") for d in sorted((run / "stages").glob("*"))]
    found += [(d.name, d / "samples.jsonl") for d in sorted((run / "eval").glob("final-*"))]
    return [(label, f) for label, f in found if f.is_file()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, help="also write every table here")
    a = ap.parse_args(argv)
    everything = {}
    for run in a.runs:
        found = evaluations(run)
        if not found:
            print(f"answer_styles: {run}: no evaluations (eval/start, stages/*/eval, eval/final-*)", file=sys.stderr)
            return 2
        print(f"== {run}")
        for label, samples in found:
            t = everything.setdefault(str(run), {})[label] = styles_in(samples)
            for cap, styles in t.items():
                cells = ", ".join(
                    f"{st} {s['share']:.0%} (acc {s['accuracy']:.3f}, {s['think_tokens']:.1f} tok)"
                    for st, s in styles.items()
                )
                print(f"{label:>28}  {cap:<17} {cells}")
    if a.json:
        from seethink.fileio import write_json

        write_json(a.json, everything)
    return 0


if __name__ == "__main__":
    sys.exit(main())
