"""Run one stage: a TRL GRPOTrainer or SFTTrainer from a checkpoint, saved as an HF checkpoint.

What TRL does (rollouts, advantages, clipping, KL, logging, in-stage checkpoints) stays in TRL. Added
here: the stage's fixed data order, vision freezing, our rewards, metrics.jsonl, a NaN guard, LoRA adapters
merged at the end (`seethink.train.lora`), and an atomic final save (the checkpoint folder appears complete
or not at all).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import torch
from transformers.trainer_callback import ProgressCallback
from transformers.utils import logging as hf_logging

from seethink.errors import SeethinkError
from seethink.fileio import atomic_dir, write_json
from seethink.models.load import last_checkpoint, load_model
from seethink.recipe import Rollouts, Stage, updates_per_round
from seethink.rewards import DEFAULT_REWARD, REWARDS, shuffled_within_groups
from seethink.train.data import grpo_dataset, sft_dataset, stage_records
from seethink.train.dist import on_main, state
from seethink.train.freeze import freeze_vision
from seethink.train.lora import lora_config, merged
from seethink.train.metrics import GRPO_KEYS, SFT_KEYS, MetricsWriter, NonFiniteGuard, SampleLog, StageProgress


def rows_per_round(stage: Stage, processes: int | None = None) -> int:
    """Prompts one GRPO rollout round samples (SFT: examples one step trains on), over all `processes` (default:
    those of this run); a recipe's batch sizes are per device."""
    if processes is None:
        processes = state().num_processes
    if stage.algorithm == "grpo":
        return (stage.rollout_batch_size or stage.batch_size) // stage.num_generations * processes
    return stage.batch_size * processes


def stage_rows(stage: Stage, processes: int | None = None) -> int:
    """Rows (prompts or examples) the whole stage trains on, each exactly once."""
    rounds = stage.steps // updates_per_round(stage) if stage.algorithm == "grpo" else stage.steps
    return rounds * rows_per_round(stage, processes)


def use_bf16(precision: str) -> bool:
    """`auto`: bf16 mixed precision where the GPU supports it (the paper trains in bf16), fp32 on CPU."""
    if precision == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return precision == "bf16"


def _common_args(stage: Stage, work: Path, seed: int, report_to: str, precision: str = "auto") -> dict:
    # transformers 5 reads a warmup_steps value below 1 as a ratio of the total steps. In-stage checkpoints fall
    # on the end of a GRPO rollout round: a resumed stage samples a new round rather than reuse half of one
    per_round = updates_per_round(stage) if stage.algorithm == "grpo" else 1
    return dict(output_dir=str(work), max_steps=stage.steps, learning_rate=stage.lr,
                lr_scheduler_type="constant_with_warmup" if stage.warmup_ratio else "constant",
                warmup_steps=stage.warmup_ratio, weight_decay=stage.weight_decay, max_grad_norm=stage.max_grad_norm,
                per_device_train_batch_size=stage.batch_size, logging_steps=1, save_strategy="steps",
                save_steps=max(1, stage.steps // 4 // per_round) * per_round, save_total_limit=1, report_to=report_to, seed=seed, data_seed=seed,
                use_cpu=not torch.cuda.is_available(), bf16=use_bf16(precision), dataloader_num_workers=0, disable_tqdm=False,
                logging_nan_inf_filter=False)  # NonFiniteGuard must see a NaN loss


def vllm_args(rollouts: Rollouts | None) -> dict:
    """GRPOConfig settings for TRL's vLLM rollouts (none for generate() inside the trainer)."""
    if rollouts is None or rollouts.engine != "vllm":
        return {}
    return dict(use_vllm=True, vllm_mode=rollouts.vllm_mode, vllm_gpu_memory_utilization=rollouts.vllm_gpu_memory_utilization,
                vllm_tensor_parallel_size=rollouts.vllm_tensor_parallel_size,
                vllm_server_base_url=rollouts.vllm_server_base_url or None)


def build_trainer(stage: Stage, model, processor, root: Path, work: Path, seed: int, report_to: str = "none",
                  samples: Path | None = None, precision: str = "auto", peft_config=None, rollouts: Rollouts | None = None,
                  shuffle_rewards: bool = False):
    """The stage's TRL trainer and the log keys it reports. `samples`: keep a few rollouts there (GRPO);
    `peft_config`: let TRL wrap the model with these adapters; `shuffle_rewards`: the null control (rewards
    permuted within each group; samples.jsonl keeps the true scores)."""
    records = stage_records(stage, root, stage_rows(stage), rows_per_round(stage), seed)
    args = _common_args(stage, work, seed, report_to, precision)
    if stage.algorithm == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        config = GRPOConfig(**args, num_generations=stage.num_generations, max_completion_length=stage.max_completion_length,
                            steps_per_generation=(stage.rollout_batch_size or stage.batch_size) // stage.batch_size,
                            num_iterations=stage.num_iterations,
                            temperature=stage.temperature, beta=stage.beta, loss_type=stage.loss_type,
                            epsilon=stage.epsilon, epsilon_high=stage.epsilon_high, shuffle_dataset=False,
                            reward_weights=list(DEFAULT_REWARD.values()), remove_unused_columns=False,
                            **vllm_args(rollouts))
        rewards = [REWARDS[k] for k in DEFAULT_REWARD]
        log = SampleLog(rewards[0], samples, every=stage.steps // 10) if samples else None
        rewards[0] = log or rewards[0]
        if shuffle_rewards:
            rewards = [shuffled_within_groups(f, seed) for f in rewards]
        trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=config,
                              train_dataset=grpo_dataset(records), processing_class=processor,
                              callbacks=[log] if log else None, peft_config=peft_config)
        return trainer, GRPO_KEYS
    from trl import SFTConfig, SFTTrainer

    config = SFTConfig(**args, shuffle_dataset=False, max_length=None, remove_unused_columns=False)
    trainer = SFTTrainer(model=model, args=config, train_dataset=sft_dataset(records), processing_class=processor,
                         peft_config=peft_config)
    return trainer, SFT_KEYS


# TRL 1.16 still uses transformers 5.23's `gradient_checkpointing*` names, deprecated for `activation_checkpointing*`:
# a FutureWarning on every rollout that nobody running a recipe can act on
_UPSTREAM_DEPRECATION = r"`(is_)?gradient_checkpointing\w*` is deprecated"


@contextlib.contextmanager
def _quiet_saves():
    """No "Writing model shards" bar of transformers' own inside the stage's bar at each in-stage checkpoint
    (and at the final save); the Trainer's bar is not one of those and stays."""
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def run_stage(stage: Stage, start: Path, stage_dir: Path, root: Path, seed: int, report_to: str = "none",
              precision: str = "auto", rollouts: Rollouts | None = None, shuffle_rewards: bool = False) -> Path:
    """Train `stage` from checkpoint `start`; returns `stage_dir/checkpoint`. Resumes in-stage checkpoints."""
    work = stage_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    resume = last_checkpoint(work)
    lora = stage.lora.r > 0
    # the weights of an in-stage checkpoint (see last_checkpoint); with LoRA it holds only the adapters, which
    # the Trainer restores itself on resume (checked by a test: resumed LoRA stages are bit-identical)
    model, processor = load_model(start if lora else (resume or start))
    model.train()
    frozen = freeze_vision(model) if stage.freeze_vision else 0
    peft_config = lora_config(model, stage.lora) if lora else None
    with warnings.catch_warnings(), _quiet_saves():
        warnings.filterwarnings("ignore", message=_UPSTREAM_DEPRECATION, category=FutureWarning)
        trainer, keys = build_trainer(stage, model, processor, root, work, seed, report_to, stage_dir / "samples.jsonl",
                                      precision, peft_config, rollouts, shuffle_rewards)
        metrics = MetricsWriter(stage_dir / "metrics.jsonl", keys)
        guard = NonFiniteGuard()
        trainer.add_callback(metrics)
        trainer.add_callback(guard)
        if trainer.pop_callback(ProgressCallback) is not None:
            trainer.add_callback(StageProgress(keys))
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if guard.bad_step is not None:
        on_main(shutil.rmtree, work, ignore_errors=True)  # in-stage checkpoints may already hold diverged weights
        raise SeethinkError(f"stage {stage.name}: loss became NaN/inf at step {guard.bad_step}; stopped and its "
                            f"in-stage checkpoints discarded. The stage's starting checkpoint ({start}) is unchanged; "
                            "rerun with a lower lr under a new run name (--set name=...)")
    final = stage_dir / "checkpoint"
    # sharded weights (ZeRO-3, FSDP) are gathered by every process; in one process the model saves itself
    acc = trainer.accelerator
    weights = acc.get_state_dict(trainer.model) if acc.num_processes > 1 and not lora else None

    def save():
        with atomic_dir(final) as tmp:
            merged(acc.unwrap_model(trainer.model)).save_pretrained(tmp, state_dict=weights)
            processor.save_pretrained(tmp)
            write_json(tmp / "seethink_stage.json", {"stage": stage.name, "start": str(start), "frozen_vision_tensors": frozen,
                                                     "steps": trainer.state.global_step,
                                                     "lora": dataclasses.asdict(stage.lora) if lora else None})
        _keep_tensorboard(work, stage_dir)
        shutil.rmtree(work, ignore_errors=True)

    with _quiet_saves():
        on_main(save)
    return final


def _keep_tensorboard(work: Path, stage_dir: Path) -> None:
    """TRL/transformers write TensorBoard events under output_dir/runs/; keep them when work/ goes."""
    runs = work / "runs"
    if runs.is_dir():
        dest = stage_dir / "tensorboard"
        dest.mkdir(exist_ok=True)
        for d in runs.iterdir():
            shutil.move(str(d), str(dest / d.name))


def is_complete(stage_dir: Path) -> bool:
    f = stage_dir / "checkpoint" / "seethink_stage.json"
    return f.is_file() and bool(json.loads(f.read_text()))
