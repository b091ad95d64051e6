"""How well a model reads an object's colour and shape out of the image: base v5's `identify` answers, split.

    python benchmarks/identify_readout.py EVAL_DIR [EVAL_DIR ...] [--json R.json]

EVAL_DIR is the output of `seethink eval` (its `samples.jsonl`) on a world built with `--families v5`. Every
`identify` question asks for one object's colour and shape ("red circle"), found either by its place ("the object
at the top left") or by a relation to another object ("the object left of the square"). Per question kind the
script prints the answer's accuracy and, separately, how often the boxed answer names the right colour and the
right shape. Gate G3 of docs/experiments/base-v5-pilots.md reads shape (by place) and relation (the whole answer,
by relation) from here: the readout a base does poorly while its tower holds the information (gate G2) is the
perception headroom RL can reach. Model-free: it only reads the samples.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seethink.fileio import write_json
from seethink.grading import extract_boxed
from seethink.miniature.world.families_v5 import RELATIONS
from seethink.miniature.world.scene import COLOURS, SHAPES

RELATION_WORDS = tuple(f" {r} " for r in RELATIONS)


def kind_of(problem: str) -> str:
    """`relation` for an object found through another object, `place` for one found by its region."""
    return "relation" if any(w in problem for w in RELATION_WORDS) else "place"


def parts(answer: str | None) -> tuple[str | None, str | None]:
    """(colour, shape) a free-form answer names, each None if it names none or more than one."""
    words = (answer or "").lower().replace(".", " ").split()
    colours = {w for w in words if w in COLOURS}
    shapes = {w.removesuffix("s") for w in words if w.removesuffix("s") in SHAPES}
    return (next(iter(colours)) if len(colours) == 1 else None, next(iter(shapes)) if len(shapes) == 1 else None)


def readout(rows: list[dict]) -> dict[str, dict]:
    """Per question kind: n, accuracy (the reward's), colour and shape read right (from the boxed answer)."""
    by: dict[str, list[tuple[float, bool, bool]]] = {}
    for row in rows:
        if row.get("family") != "identify":
            continue
        gold, got = parts(row["answer"]), parts(extract_boxed(row["completion"]))
        by.setdefault(kind_of(row["problem"]), []).append((row["accuracy"], got[0] == gold[0], got[1] == gold[1]))
    out = {}
    for kind, v in sorted(by.items()):
        n = len(v)
        out[kind] = {
            "n": n,
            "accuracy": sum(a for a, _, _ in v) / n,
            "colour": sum(c for _, c, _ in v) / n,
            "shape": sum(s for _, _, s in v) / n,
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("evals", nargs="+", type=Path, help="`seethink eval` output folders")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    result = {}
    for folder in a.evals:
        samples = folder / "samples.jsonl"
        if not samples.is_file():
            print(f"identify_readout: {samples} not found (give a `seethink eval` output folder)", file=sys.stderr)
            return 2
        rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
        result[str(folder)] = table = readout(rows)
        if not table:
            print(f"identify_readout: {samples} has no identify answers (a world built with --families v5?)")
        for kind, s in table.items():
            print(
                f"{folder}  {kind:8s} n={s['n']:4d}  accuracy {s['accuracy']:.3f}  colour {s['colour']:.3f}  "
                f"shape {s['shape']:.3f}"
            )
    if a.json:
        write_json(a.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
