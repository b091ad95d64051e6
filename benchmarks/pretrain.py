"""The base's benchmark: pretraining speed and memory, and whether the base is one RL can lift.

    python benchmarks/pretrain.py --model src/seethink/miniature/assets/base    # check the shipped base
    python benchmarks/pretrain.py --config configs/base.yaml --out B   # pretrain a base, then check it

Evaluates on the test split of the built-in world (the world every recipe trains and evaluates on; 1,000
records per capability by default; `--pretraining-world` uses the world the base learnt from instead): greedy
accuracy, T = 1 sampled accuracy and pass@8 (8 samples per record), and the best blind answer prior, per
capability and family. Then checks the targets a base must meet before any RL runs on it (issue 17):
  - format >= 0.98 on every capability;
  - greedy accuracy in [0.45, 0.80] on every capability and >= 20 points above its answer prior (the blind
    baseline that answers each family's best prior: the record-weighted mean of the family priors);
  - shape and relation each >= 15 points above their priors;
  - calibration: sampled accuracy >= 0.75 x greedy on every capability (rollouts are right about as often as
    the greedy answer, so GRPO groups carry signal);
  - coverage: pass@8 >= greedy + 0.15 on text and visual reasoning (headroom that sampling reaches);
  - signal: the GRPO gradient noise scale B_noise <= 150 prompts on every capability, its signal |G|^2 more
    than 2 standard errors above zero (`--noise-prompts` train prompts each, `seethink.eval.noise_scale`; 0
    skips it). Added with base v3, before any RL ran on a v3 candidate: a main-job stage sees about 1,000
    prompts, and after N prompts the reward's displacement of the weights stands about sqrt(N / B_noise) times
    above the drift its noise causes, so 150 leaves a factor 2.6.
    Base v2 measured B_noise of about 3,000 (perception), none found (text) and 390 (visual reasoning).
Prints one table, the answer styles of the greedy answers (bases pretrained with `terse`/`look`/`guess`/`quick` shares)
and PASS/FAIL per target; exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from seethink.eval.evaluate import EvalOptions, evaluate_folder
from seethink.eval.noise_scale import Sampling, measure
from seethink.miniature.pretrain import pretrain, styles_in
from seethink.miniature.pretrain_config import PretrainConfig, load_pretrain_config
from seethink.miniature.world.build import build_world
from seethink.miniature.world.generate import WorldConfig
from seethink.models.load import load_model
from seethink.records.io import load_records
from seethink.records.schema import CAPABILITIES

MAX_B_NOISE = 150


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def capability_prior(summary: dict, cap: str) -> float:
    """The blind baseline's accuracy on a capability: each family's best prior, weighted by its records."""
    fams = {k: v for k, v in summary["family"].items() if k.startswith(cap + "/")}
    n = sum(v["n"] for v in fams.values())
    return sum(summary["prior"][k] * v["n"] for k, v in fams.items()) / n


def targets(summary: dict) -> list[tuple[str, bool, str]]:
    cap, fam, prior = summary["capability"], summary["family"], summary["prior"]
    rows = []
    for c in CAPABILITIES:
        s, p = cap[c], capability_prior(summary, c)
        rows += [
            (f"{c}: format >= 0.98", s["format"] >= 0.98, f"{s['format']:.3f}"),
            (f"{c}: greedy in [0.45, 0.80]", 0.45 <= s["accuracy"] <= 0.80, f"{s['accuracy']:.3f}"),
            (
                f"{c}: greedy >= prior + 0.20",
                s["accuracy"] >= p + 0.20,
                f"{s['accuracy']:.3f} vs prior {p:.3f} (best family prior "
                f"{max(v for k, v in prior.items() if k.startswith(c + '/')):.3f})",
            ),
            (
                f"{c}: sampled >= 0.75 x greedy",
                s["sampled_accuracy"] >= 0.75 * s["accuracy"],
                f"{s['sampled_accuracy']:.3f} = {s['sampled_accuracy'] / max(s['accuracy'], 1e-9):.2f} x greedy",
            ),
        ]
        if c != "perception":
            rows.append(
                (
                    f"{c}: pass@8 >= greedy + 0.15",
                    s["pass_at_k"] >= s["accuracy"] + 0.15,
                    f"{s['pass_at_k']:.3f} = greedy {s['pass_at_k'] - s['accuracy']:+.3f}",
                )
            )
    for f in ("shape", "relation"):
        key = f"perception/{f}"
        rows.append(
            (
                f"{key} >= prior + 0.15",
                fam[key]["accuracy"] >= prior[key] + 0.15,
                f"{fam[key]['accuracy']:.3f} vs prior {prior[key]:.3f}",
            )
        )
    return rows


def style_table(samples: Path) -> list[str]:
    """Per capability, the share of greedy answers in each style and their accuracy."""
    styles = styles_in(samples)
    return [
        f"{cap:>32}  "
        + ", ".join(f"{st} {s['share']:.0%} (accuracy {s['accuracy']:.3f})" for st, s in styles.get(cap, {}).items())
        for cap in CAPABILITIES
    ]


def noise_targets(model: Path, world: Path, prompts: int) -> list[tuple[str, bool, str]]:
    """B_noise of each capability on `prompts` train records, as a GRPO stage samples them (T = 1, groups of 8,
    completions as long as the evaluation's)."""
    net, processor = load_model(model)
    rows = []
    for c in CAPABILITIES:
        m = measure(net, processor, load_records(world / c, "train")[:prompts], Sampling(max_new_tokens=96))
        s, null = m.real.stats(), m.null.stats()
        rows.append(
            (
                f"{c}: B_noise <= {MAX_B_NOISE} prompts, signal > 2 se",
                s["b_noise"] <= MAX_B_NOISE and s["signal"] > 2 * s["se"],
                f"{s['b_noise']:.0f} (|G|^2 {s['signal']:.2e} +- {s['se']:.1e}, tr {s['trace']:.2e}; "
                f"null |G|^2 {null['signal']:.1e} +- {null['se']:.1e})",
            )
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="check this base instead of training one")
    ap.add_argument("--config", help="pretraining config YAML (default: the built-in defaults)")
    ap.add_argument("--out", help="where to keep the trained base (default: a temporary folder)")
    ap.add_argument("--test", type=int, default=1000, help="test records per capability")
    ap.add_argument("--samples", type=int, default=8, help="samples per record at temperature 1")
    ap.add_argument(
        "--noise-prompts",
        type=int,
        default=512,
        help="train prompts per capability for the B_noise target (0: skip it)",
    )
    ap.add_argument("--eval-out", help="keep the evaluation (summary.json, samples.jsonl) here (default: removed)")
    ap.add_argument(
        "--pretraining-world",
        action="store_true",
        help="evaluate on the world the base learnt from (its config's `world`), not the built-in one",
    )
    args = ap.parse_args()
    if args.noise_prompts and args.noise_prompts < 64:
        ap.error("--noise-prompts: at least 64 (four chunks of 16, for the signal's standard error), or 0 to skip")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    tmp = Path(tempfile.mkdtemp(prefix="seethink-bench-"))
    try:
        return check(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check(args, tmp: Path) -> int:
    stats = {}
    if args.model:
        model = Path(args.model)
        cfg = PretrainConfig(**json.loads((model / "pretrain_config.json").read_text()))
    else:
        cfg = load_pretrain_config(args.config) if args.config else PretrainConfig()
        model = Path(args.out or tmp / "base")
        t = time.time()
        pretrain(model, cfg)
        stats = json.loads((model / "pretrain_stats.json").read_text())
        stats["wall_seconds"] = round(time.time() - t, 1)
    world = build_world(
        tmp / "world",
        seed=0,
        sizes={"train": 2000, "validation": 10, "test": args.test},
        cfg=WorldConfig(**cfg.world) if args.pretraining_world else WorldConfig(),
        datasets=CAPABILITIES,
    )
    t = time.time()
    evals = Path(args.eval_out) if args.eval_out else tmp / "eval"
    summary = evaluate_folder(model, world, "test", evals, EvalOptions(samples=args.samples))
    eval_seconds = time.time() - t
    print("\n== pretraining")
    for k in (
        "params",
        "examples",
        "data_seconds",
        "train_seconds",
        "wall_seconds",
        "examples_per_second",
        "final_loss",
    ):
        if k in stats:
            print(f"{k:>22}: {stats[k]}")
    print(f"{'evaluation seconds':>22}: {eval_seconds:.0f}")
    print(f"{'peak RSS (GB)':>22}: {peak_rss_gb():.2f}")
    print(f"\n== test split, {args.test} records per capability; sampled and pass@{args.samples} at temperature 1")
    print(f"{'':>32}  greedy  sampled  pass@{args.samples}  prior  format  tokens")
    for key, s in list(summary["capability"].items()) + list(summary["family"].items()):
        p = summary["prior"].get(key, capability_prior(summary, key) if key in CAPABILITIES else float("nan"))
        print(
            f"{key:>32}  {s['accuracy']:.3f}   {s['sampled_accuracy']:.3f}    {s['pass_at_k']:.3f}   {p:.3f}  "
            f"{s['format']:.3f}  {s['mean_tokens']:.1f}"
        )
    print("\n== greedy answers by style")
    print("\n".join(style_table(evals / "samples.jsonl")))
    print("\n== targets")
    ok = True
    rows = targets(summary) + (noise_targets(model, world, args.noise_prompts) if args.noise_prompts else [])
    for name, passed, value in rows:
        ok &= passed
        print(f"  [{'PASS' if passed else 'FAIL'}] {name}: {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
