"""How often guessing, without looking at the image or working the question out, gets a world's answers right.

    python benchmarks/guess_rate.py                          # the built-in world's families (seed 0)
    python benchmarks/guess_rate.py --families v5 --n 4000 --k 1 8 64 --json guess.json

A reward that a guess earns is luck, not skill: RL on such records mostly learns to guess. Per question family,
from the answers of `--n` train records (the prior a base learns) and `--n` validation records (the questions it
is scored on), pass@k of two guessers that never look:
- `sampled`: k answers drawn from the train prior with replacement (what a base's careless habit does): per
  record 1 - (1 - p(answer))^k; for a balanced 4-option MCQ, 1 - 0.75^k (0.90 at k = 8);
- `top-k`: the k most frequent train answers, all different (the best any guesser can do).
Issue 35 asks for records whose sampled pass@8 by guessing is <= 0.3. Nothing is rendered and no model runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from seethink.errors import SeethinkError
from seethink.miniature.world.generate import FAMILY_SETS, WorldConfig, generate
from seethink.records.schema import CAPABILITIES


def answers_by_family(split: str, n: int, seed: int, cfg: WorldConfig) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for capability in CAPABILITIES:
        for g in generate(capability, split, n, seed, cfg):
            out[(capability, g.record["family"])].append(g.record["answer"])
    return out


def guess_rates(prior: list[str], asked: list[str], k: int) -> dict[str, float]:
    """pass@k of the sampled and the top-k guesser, over the `asked` answers, from the `prior` answers."""
    counts = Counter(prior)
    p = {a: c / len(prior) for a, c in counts.items()}
    top = {a for a, _ in counts.most_common(k)}
    return {
        "sampled": sum(1 - (1 - p.get(a, 0.0)) ** k for a in asked) / len(asked),
        "top_k": sum(a in top for a in asked) / len(asked),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="records per capability and split (default 2000)")
    ap.add_argument("--k", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--seed", type=int, default=0, help="world seed (default 0, the built-in world's)")
    ap.add_argument("--families", default="v4", choices=list(FAMILY_SETS), help="the world's question families")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    if a.n < 1 or any(k < 1 for k in a.k):
        print("guess_rate: --n and every --k must be >= 1", file=sys.stderr)
        return 2
    try:
        cfg = WorldConfig(families=a.families)
    except SeethinkError as e:
        print(f"guess_rate: {e}", file=sys.stderr)
        return 2
    prior, asked = (answers_by_family(split, a.n, a.seed, cfg) for split in ("train", "validation"))
    rows = []
    print(f"{'capability':<17} {'family':<13} {'answers':>7}  " + "  ".join(f"{f'pass@{k} s/top':>14}" for k in a.k))
    for key in sorted(asked, key=lambda f: (CAPABILITIES.index(f[0]), f[1])):
        rates = {k: guess_rates(prior[key], asked[key], k) for k in a.k}
        rows.append({"capability": key[0], "family": key[1], "distinct_answers": len(set(prior[key])), "pass": rates})
        cells = "  ".join(f"{r['sampled']:>6.3f}/{r['top_k']:<7.3f}" for r in rates.values())
        print(f"{key[0]:<17} {key[1]:<13} {len(set(prior[key])):>7}  {cells}")
    if a.json:
        out = {"n": a.n, "seed": a.seed, "world_families": a.families, "families": rows}
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
