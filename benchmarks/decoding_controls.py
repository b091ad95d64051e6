"""Training-free controls: the best a decoding constraint does on a model without training, beside pass@k curves.

    python benchmarks/decoding_controls.py                              # the shipped base, seed-0 validation
    python benchmarks/decoding_controls.py --models base runs/staged --limit 500 --passk-limit 200 --json C.json

Every RL gain the docs report is read against this: if banning a few answer openings at decode time gives the
untrained model what RL gave, RL selected an answer style, it did not teach a skill. Per model and capability:
- `greedy`: the model's greedy accuracy;
- `ban`: greedy with every answer-style opening other than the worked one banned right after `<think>` (HF
  `bad_words_ids`: the `<think>` token followed by the first token of `Guess:`, `Answer:`, `Quick:`, the openings
  of `seethink.styles.OPENINGS`; `--ban` names others);
- pass@k for k = 1, 2, 4, ... up to `--k` (default 64), from `--k` samples per record at T = 1 with the unbiased
  estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021): what sampling reaches. RL that only sharpens the base's
  distribution raises pass@1 and leaves pass@64 where it was, or lowers it.

A model argument is a model folder, `base`, or a `seethink train` run folder (its last stage's checkpoint).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from math import comb
from pathlib import Path

import torch

from seethink.eval.evaluate import sample_counts, score_rows
from seethink.models.generate import generate
from seethink.models.load import load_model
from seethink.records.io import load_records
from seethink.records.schema import CAPABILITIES
from seethink.resolve import builtin_world, model_path
from seethink.styles import OPENINGS


def pass_at(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of a record with c right answers out of n samples (k <= n)."""
    return 1.0 if n - c < k else 1.0 - comb(n - c, k) / comb(n, k)


def ban_ids(tokenizer, openings: list[str]) -> list[list[int]]:
    """[<think>, first token of the opening] for each opening, as the opening is tokenised right after <think>."""
    think = tokenizer.convert_tokens_to_ids("<think>")
    out = []
    for o in openings:
        ids = tokenizer.encode(f"<think>{o}", add_special_tokens=False)
        if len(ids) < 2 or ids[0] != think:
            raise SystemExit(f"decoding_controls: --ban {o!r}: does not tokenise as <think> + tokens")
        out.append([think, ids[1]])
    return out


def resolve(arg: str) -> Path:
    """A model folder for a model argument: a run folder gives its last stage's checkpoint."""
    p = Path(arg)
    if (p / "stages").is_dir():
        stages = sorted(d / "checkpoint" for d in (p / "stages").iterdir() if (d / "checkpoint").is_dir())
        if not stages:
            raise SystemExit(f"decoding_controls: {p}: a run folder with no finished stage")
        return stages[-1]
    return model_path(arg)


def accuracy(rows: list[dict]) -> float:
    return sum(r["accuracy"] for r in rows) / len(rows)


def controls(model, processor, records: list[dict], bans: list[list[int]], a) -> dict:
    """Greedy and banned-greedy accuracy on `records`, pass@k on the first `a.passk_limit` of them."""
    greedy = generate(model, processor, records, max_new_tokens=a.max_new_tokens, desc="greedy")
    banned = generate(
        model, processor, records, max_new_tokens=a.max_new_tokens, desc="greedy, openings banned", bad_words_ids=bans
    )
    out = {
        "n": len(records),
        "greedy": accuracy(score_rows(records, greedy)),
        "ban": accuracy(score_rows(records, banned)),
    }
    if a.k:
        part = records[: a.passk_limit]
        counts = sample_counts(
            model, processor, part, a.k, max_new_tokens=a.max_new_tokens, batch_size=max(a.k, 512), seed=a.seed
        )
        ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= a.k]
        out["passk_n"] = len(part)
        out["pass_at"] = {str(k): sum(pass_at(a.k, c, k) for c in counts) / len(counts) for k in ks}
    return out


def print_table(label: str, res: dict) -> None:
    ks = list(next(iter(res.values())).get("pass_at", {}))
    print(f"\n== {label}")
    print(f"{'':>18} {'greedy':>7} {'ban':>7} " + " ".join(f"{'p@' + k:>7}" for k in ks))
    for cap, r in res.items():
        print(f"{cap:>18} {r['greedy']:7.3f} {r['ban']:7.3f} " + " ".join(f"{r['pass_at'][k]:7.3f}" for k in ks))
    mean = {key: sum(r[key] for r in res.values()) / len(res) for key in ("greedy", "ban")}
    print(f"{'mean':>18} {mean['greedy']:7.3f} {mean['ban']:7.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["base"])
    ap.add_argument("--data", type=Path, help="world folder (default: the built-in world of seed 0, runs/world-seed0)")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--limit", type=int, default=500, help="records per capability for greedy and ban")
    ap.add_argument("--k", type=int, default=64, help="samples per record for pass@k (0: skip)")
    ap.add_argument("--passk-limit", type=int, default=200, help="records per capability for pass@k")
    ap.add_argument("--ban", nargs="*", default=list(OPENINGS.values()), help="openings to ban after <think>")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.limit < 1 or a.k < 0 or a.passk_limit < 1:
        ap.error("--limit and --passk-limit must be >= 1, --k >= 0")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    world = a.data or builtin_world(Path("runs/world-seed0"))
    data = {c: load_records(world / c, a.split)[: a.limit] for c in CAPABILITIES}
    everything = {}
    for arg in a.models:
        t0 = time.time()
        model, processor = load_model(resolve(arg), device="cpu")
        model.eval()
        bans = ban_ids(processor.tokenizer, a.ban) if a.ban else None
        res = {c: controls(model, processor, recs, bans, a) for c, recs in data.items()}
        everything[arg] = res
        print_table(f"{arg} ({time.time() - t0:.0f} s; {a.split}, ban {a.ban})", res)
    if a.json:
        a.json.write_text(
            json.dumps({"split": a.split, "world": str(world), "ban": a.ban, "k": a.k, "models": everything}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
