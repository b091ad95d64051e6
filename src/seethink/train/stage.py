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

from seethink.algorithms import algorithm
from seethink.errors import SeethinkError
from seethink.fileio import atomic_dir, disk_full_is_one_line, write_json
from seethink.models.checkpoints import drop_unfinished, has_full_weights, last_checkpoint
from seethink.models.freeze import freeze_vision
from seethink.models.load import load_model
from seethink.models.processors import bound_pixels
from seethink.recipe import Stage
from seethink.train.dist import from_main, on_main, say, state
from seethink.train.engines import full_state_dict, release
from seethink.train.lora import lora_config, merged
from seethink.train.metrics import MetricsWriter, NonFiniteGuard, SampleLog, StageProgress
from seethink.train.plan import RunSettings, StageSetup
from seethink.train.trl_config import UPSTREAM_DEPRECATION, config_from
from seethink.train.validation import StageValidation


def build_trainer(setup: StageSetup, model, processor, samples: Path | None = None, peft_config=None):
    """The stage's TRL trainer and the log keys it reports, from its algorithm and plan. `samples`: keep a few
    rollouts there (GRPO); `peft_config`: let TRL wrap the model with these adapters. With `shuffle_rewards`, the
    null control: rewards permuted within each group (samples.jsonl keeps the true scores)."""
    stage, run = setup.stage, setup.run
    return algorithm(stage).trainer(
        stage,
        model,
        processor,
        setup.records,
        config_from(stage, setup.trl_args),
        peft_config,
        seed=run.seed,
        shuffle_rewards=run.shuffle_rewards,
        sample_log=(lambda reward: SampleLog(reward, samples, every=stage.steps // 10)) if samples else None,
    )


def _resume_point(work: Path, label: str) -> Path | None:
    """The in-stage checkpoint to resume from, decided by the main process (which sets damaged ones aside) and
    handed to every process, so that none looks at a folder while it is being renamed; its refusal too."""

    def decide():
        try:
            return last_checkpoint(work, set_aside=True, label=label, processes=state().num_processes), None
        except SeethinkError as e:
            return None, str(e)

    resume, error = from_main(decide)
    if error:
        raise SeethinkError(error)
    return resume


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


def run_stage(setup: StageSetup, start: Path, stage_dir: Path) -> Path:
    """Train the planned stage (`seethink.train.plan`) from checkpoint `start`; returns `stage_dir/checkpoint`.
    Resumes in-stage checkpoints."""
    stage, run = setup.stage, setup.run
    work = stage_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    resume = _resume_point(work, f"stage {stage.name}: ")
    if resume:
        step = json.loads((resume / "trainer_state.json").read_text())["global_step"]
        say(f"    resuming from {resume.name} (step {step})")
    model, processor, frozen, peft_config = _stage_model(stage, run, start, resume)
    with warnings.catch_warnings(), _quiet_saves():
        warnings.filterwarnings("ignore", message=UPSTREAM_DEPRECATION, category=FutureWarning)
        trainer, keys = build_trainer(setup, model, processor, stage_dir / "samples.jsonl", peft_config)
        metrics = MetricsWriter(stage_dir / "metrics.jsonl", keys)
        guard = NonFiniteGuard()
        trainer.add_callback(metrics)
        trainer.add_callback(guard)
        if trainer.pop_callback(ProgressCallback) is not None:
            trainer.add_callback(StageProgress(keys))
        validation = (
            StageValidation(run.validation, run.eval, stage.keep, work, run.seed).attach(trainer)
            if run.validation is not None
            else None
        )
        with disk_full_is_one_line(stage_dir, cleanup=lambda: on_main(drop_unfinished, work)):
            trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if guard.bad_step is not None:
        on_main(shutil.rmtree, work, ignore_errors=True)  # in-stage checkpoints may already hold diverged weights
        raise SeethinkError(
            f"stage {stage.name}: loss became NaN/inf at step {guard.bad_step}; stopped and its "
            f"in-stage checkpoints discarded. The stage's starting checkpoint ({start}) is unchanged; "
            "rerun with a lower lr under a new run name (--set name=...)"
        )
    kept = validation.restore_best(trainer.model) if validation else None  # keep: best:<metric>
    final = _save_stage(trainer, processor, stage, start, stage_dir, frozen, kept)
    release(trainer)
    return final


def _stage_model(stage: Stage, run: RunSettings, start: Path, resume: Path | None):
    """(model, processor, frozen vision tensors, PEFT config) for the stage's trainer, in train mode."""
    lora = stage.lora.r > 0
    # the weights of an in-stage checkpoint (see last_checkpoint) where it has them as safetensors; with LoRA it
    # holds only the adapters, and an FSDP sharded checkpoint only its shards: the Trainer (through the engine)
    # restores those itself on resume (tests: resumed LoRA and ZeRO-3 stages match uninterrupted ones; FSDP's
    # sharded resume runs only on GPUs, where accelerate runs FSDP, and is untested here)
    source = resume if resume and not lora and has_full_weights(resume) else start  # fp32 master weights:
    model, processor = load_model(source, dtype=torch.float32, attn=run.attn_implementation)  # bf16 = autocast
    # TRL builds the KL reference model from the policy's `_name_or_path`: the stage's start, also on resume
    model.config._name_or_path = str(start)
    bound_pixels(processor, run.min_pixels, run.max_pixels)  # saved with the checkpoint
    model.train()
    frozen = freeze_vision(model) if stage.freeze_vision else 0
    peft_config = lora_config(model, stage.lora) if lora else None
    return model, processor, frozen, peft_config


def _save_stage(trainer, processor, stage: Stage, start: Path, stage_dir: Path, frozen: int, kept) -> Path:
    """Write stage_dir/checkpoint atomically (main process), keep TensorBoard events, drop the work folder."""
    final = stage_dir / "checkpoint"
    work, lora = stage_dir / "work", stage.lora.r > 0
    # sharded weights (ZeRO-3, FSDP) are gathered by every process, through the engine; in one process the model
    # saves itself
    acc = trainer.accelerator
    weights = full_state_dict(trainer) if acc.num_processes > 1 and not lora else None

    def save():
        with atomic_dir(final) as tmp:
            merged(acc.unwrap_model(trainer.model)).save_pretrained(tmp, state_dict=weights)
            processor.save_pretrained(tmp)
            write_json(
                tmp / "seethink_stage.json",
                {
                    "stage": stage.name,
                    "start": str(start),
                    "frozen_vision_tensors": frozen,
                    "steps": trainer.state.global_step,
                    "kept": kept or {"step": trainer.state.global_step, "metric": None},
                    "lora": dataclasses.asdict(stage.lora) if lora else None,
                },
            )
        _keep_tensorboard(work, stage_dir)
        shutil.rmtree(work, ignore_errors=True)

    with _quiet_saves(), disk_full_is_one_line(stage_dir):  # atomic_dir leaves no half-written checkpoint
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
