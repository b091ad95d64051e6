"""What a seethink stage costs on top of TRL: our GRPO stage vs a bare TRL GRPOTrainer, in one process.

    python benchmarks/grpo_overhead.py                 # 40 steps each, 3 alternating repeats
    python benchmarks/grpo_overhead.py --steps 100 --repeats 2

Both sides train the shipped base on the same records (the built-in world's perception split, same order),
with the same GRPO settings and reward functions. Ours is the whole `run_stage` call: loading the
checkpoint, building the stage's data, metrics.jsonl, the NaN guard, in-stage checkpoints (for resume) and
the atomic final save. Bare is model load + `GRPOTrainer(...).train()` with TRL's defaults otherwise.
Runs alternate (bare, ours, bare, ours, …) so drift on a noisy machine hits both; the ratio uses each side's
fastest run. Goal: ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from seethink.algorithms import ALGORITHMS
from seethink.miniature.base import base_path
from seethink.miniature.world.build import build_world
from seethink.models.load import load_model
from seethink.recipe import DataSource, Recipe, Stage
from seethink.rewards import DEFAULT_REWARD, REWARDS
from seethink.train.data import stage_records
from seethink.train.plan import plan_stage, rows_per_round, stage_rows
from seethink.train.stage import run_stage


def bare_trl(stage: Stage, root: Path, work: Path, seed: int) -> None:
    from trl import GRPOConfig, GRPOTrainer

    model, processor = load_model(base_path())
    records = stage_records(stage, root, stage_rows(stage), rows_per_round(stage), seed)
    config = GRPOConfig(
        output_dir=str(work),
        max_steps=stage.steps,
        learning_rate=stage.lr,
        lr_scheduler_type="constant",
        per_device_train_batch_size=stage.batch_size,
        num_generations=stage.num_generations,
        max_completion_length=stage.max_completion_length,
        temperature=stage.temperature,
        beta=stage.beta,
        loss_type=stage.loss_type,
        epsilon=stage.epsilon,
        epsilon_high=stage.epsilon_high,
        weight_decay=stage.weight_decay,
        max_grad_norm=stage.max_grad_norm,
        reward_weights=list(DEFAULT_REWARD.values()),
        shuffle_dataset=False,
        remove_unused_columns=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=seed,
        use_cpu=True,
        bf16=False,
        disable_tqdm=True,
    )
    GRPOTrainer(
        model=model,
        reward_funcs=[REWARDS[k] for k in DEFAULT_REWARD],
        args=config,
        train_dataset=ALGORITHMS["grpo"].dataset(records),
        processing_class=processor,
    ).train()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--num-generations", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    tmp = Path(tempfile.mkdtemp(prefix="seethink-overhead-"))
    try:
        root = build_world(tmp / "world", seed=0, sizes={"train": 2000, "validation": 10, "test": 10})
        stage = Stage(
            name="perception",
            data=[DataSource("perception")],
            steps=args.steps,
            lr=5e-5,
            batch_size=args.batch_size,
            num_generations=args.num_generations,
            max_completion_length=32,
        )
        times = {"bare TRL": [], "seethink": []}
        for k in range(args.repeats):
            for side in times:
                t = time.perf_counter()
                if side == "bare TRL":
                    bare_trl(stage, root, tmp / f"bare{k}", seed=0)
                else:
                    recipe = Recipe(name="overhead", stages=[stage], seed=0)
                    run_stage(plan_stage(stage, recipe, root, tmp / f"ours{k}"), base_path(), tmp / f"ours{k}")
                times[side].append(time.perf_counter() - t)
                print(f"run {k + 1}/{args.repeats} {side:9s} {times[side][-1]:7.1f} s", flush=True)
        bare, ours = min(times["bare TRL"]), min(times["seethink"])
        ratio = ours / bare
        print(
            f"\n{args.steps} GRPO steps of {args.batch_size} completions (group {args.num_generations}), "
            f"fastest of {args.repeats}:"
        )
        print(f"  bare TRL  {bare:7.1f} s   ({bare / args.steps:.2f} s/step)")
        print(f"  seethink  {ours:7.1f} s   ({ours / args.steps:.2f} s/step)")
        print(f"  ratio     {ratio:7.3f}   goal <= 1.10: {'PASS' if ratio <= 1.10 else 'FAIL'}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
