"""How many prompts a GRPO update needs before it is more signal than noise: the gradient noise scale.

    python benchmarks/gradient_noise.py                                  # the shipped base, three capabilities
    python benchmarks/gradient_noise.py --model M --data W --prompts 512 --datasets visual_reasoning

A GRPO update is the mean of per-prompt gradients g_j (one prompt = one group of completions). Their mean over
all prompts is the signal G; their spread is the noise, with covariance Sigma. An update of B prompts has
E|g_B|^2 = |G|^2 + tr(Sigma) / B, so it is dominated by signal only once B exceeds the noise scale

    B_noise = tr(Sigma) / |G|^2          (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training")

The script (`seethink.eval.noise_scale`) samples rollouts from a model exactly as a seethink GRPO stage does
(T = 1 by default, groups of 8, rewards 0.9 accuracy + 0.1 format, advantages standardised within each group,
token-summed log-likelihoods) and
computes every prompt's policy gradient. |G|^2 is estimated without noise bias from products of independent
chunk means (sum over chunk pairs c != d of <G_c, G_d>), with a jackknife standard error over chunks; tr(Sigma)
is the mean per-prompt |g_j|^2 minus |G|^2. The same rollouts with rewards shuffled within each group (the null
control, `--null` of `seethink train`) give the estimator's own check: their |G|^2 must be zero within its error.

Printed per dataset and per parameter group (vision tower, projector, embeddings, decoder layers, final norm and
head): |G|^2, tr(Sigma), B_noise, and the signal fraction of one update of B prompts, |G|^2 / (|G|^2 + tr/B),
for the batch sizes given by --batch. Adam normalises each parameter's step, so in the noise-dominated regime an
update moves every parameter by about lr whatever its signal; the signal fraction says how much of that is signal.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

from seethink.eval.noise_scale import Measured, Sampling, measure, signal_fraction
from seethink.models.freeze import freeze_vision
from seethink.models.load import load_model
from seethink.records.io import load_records
from seethink.records.schema import CAPABILITIES
from seethink.resolve import builtin_world, model_path

DATASETS = CAPABILITIES


def report(name: str, m: Measured, batches: list[int]) -> None:
    print(
        f"\n== {name}: {m.prompts} prompts; mean reward {m.reward:.3f}, groups with mixed rewards {m.mixed:.2f}, "
        f"completion tokens {m.tokens:.1f}"
    )
    width = max(16, *map(len, m.real.groups))
    head = " ".join(f"sig@{b:<4}" for b in batches)
    print(
        f"{'parameters':>{width}} {'|G|^2':>10} {'+-se':>9} {'tr(Sigma)':>10} {'B_noise':>9}  {head}  "
        f"{'null |G|^2':>11} {'+-se':>9}"
    )
    for k in ["all", *m.real.groups]:
        s, n = m.real.stats(k), m.null.stats(k)
        frac = " ".join(f"{signal_fraction(s, b):8.3f}" if s["signal"] > 0 else f"{'-':>8}" for b in batches)
        print(
            f"{k:>{width}} {s['signal']:10.3e} {s['se']:9.2e} {s['trace']:10.3e} {s['b_noise']:9.0f}  {frac}  "
            f"{n['signal']:11.2e} {n['se']:9.2e}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="base", help="model folder (default: the shipped base)")
    ap.add_argument("--data", help="world folder (default: the built-in world of seed 0, built under runs/)")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--split", default="train")
    ap.add_argument("--prompts", type=int, default=512, help="prompts per dataset")
    ap.add_argument("--chunk", type=int, default=16, help="prompts per generation call (and per chunk mean)")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 64, 256], help="update sizes (prompts) to report")
    ap.add_argument("--per-tensor", action="store_true", help="report every parameter tensor, not parts of the model")
    ap.add_argument("--freeze-vision", action="store_true", help="leave the vision tower and projector out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.prompts < 2 * args.chunk:
        ap.error("--prompts must hold at least two chunks")
    root = Path(args.data) if args.data else builtin_world(Path("runs") / "world-seed0", 0)
    model, processor = load_model(model_path(args.model))
    if args.freeze_vision:
        freeze_vision(model)
    how = Sampling(
        group=args.group,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        chunk=args.chunk,
        per_tensor=args.per_tensor,
        seed=args.seed,
    )
    rng = random.Random(args.seed)
    for ds in args.datasets:
        records = load_records(root / ds, args.split)
        records = rng.sample(records, min(args.prompts, len(records)))
        t = time.time()
        report(ds, measure(model, processor, records, how), args.batch)
        print(f"  ({time.time() - t:.0f} s)")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(min(2, torch.get_num_threads()))
    sys.exit(main())
