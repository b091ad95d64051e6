"""Rules across a recipe's fields (each dataclass checks its own values)."""

from __future__ import annotations

from seethink.configs import Where
from seethink.errors import SeethinkError
from seethink.recipe.budgets import updates_per_round
from seethink.recipe.schema import Recipe
from seethink.recipe.stage import Stage, keep_metric
from seethink.reward_specs import check_rewards
from seethink.rewards import DEFAULT_REWARD
from seethink.trl_fields import check_loss_type, check_trl_fields


def check(recipe: Recipe, where: Where) -> None:
    if not recipe.stages:
        where.fail("stages", "a recipe needs at least one stage")
    names = [s.name for s in recipe.stages]
    if len(set(names)) != len(names):
        where.fail("stages", f"stage names must be unique, got {names}")
    ro = recipe.rollouts
    if (
        ro.engine == "vllm"
        and not (recipe.inputs.max_prompt_length or ro.vllm_max_model_len)
        and any(s.algorithm == "grpo" for s in recipe.stages)
    ):
        where.fail(
            "inputs.max_prompt_length",
            "rollouts.engine vllm sizes its KV cache from the prompt bound "
            "(+ max_completion_length): set it (the paper: 2048) or rollouts.vllm_max_model_len",
        )
    for i, s in enumerate(recipe.stages):
        p = f"stages.{i}"
        if s.algorithm == "grpo":
            _check_grpo_batching(s, p, where)
        else:
            for key, default in (("rollout_batch_size", 0), ("num_iterations", 1)):
                if getattr(s, key) != default:
                    where.fail(f"{p}.{key}", f"a GRPO setting; stage {s.name!r} is {s.algorithm}")
        _check_micro_batch(s, p, where)
        if s.lora.r and recipe.hardware.sharding in ("zero3", "fsdp"):
            where.fail(
                f"{p}.lora.r",
                f"LoRA with hardware.sharding {recipe.hardware.sharding} is not supported: the "
                "adapters are merged into sharded weights at the stage's end; use zero2 or none (DDP), or r: 0",
            )
        if s.lora.r and s.lora.include_vision and s.freeze_vision:
            where.fail(f"{p}.lora.include_vision", "contradicts freeze_vision: true")
        if s.algorithm == "grpo":
            check_loss_type(s.loss_type, f"{p}.loss_type", where)
            try:
                check_rewards(s.rewards, f"{p}.rewards")
            except SeethinkError as e:
                where.fail("", str(e))
        elif s.rewards != DEFAULT_REWARD:
            where.fail(f"{p}.rewards", f"a GRPO setting; stage {s.name!r} is {s.algorithm}")
        if s.trl:
            check_trl_fields(s.trl, s.algorithm, f"{p}.trl", where)
        if keep_metric(s.keep) and not recipe.eval.every:
            where.fail(f"{p}.keep", f"{s.keep} picks among in-stage evaluations; set eval.every (e.g. 10)")


def _check_grpo_batching(s: Stage, p: str, where: Where) -> None:
    if s.num_generations < 2:
        where.fail(f"{p}.num_generations", "GRPO needs at least 2 completions per prompt")
    if s.batch_size % s.num_generations:
        where.fail(f"{p}.batch_size", f"{s.batch_size} is not divisible by num_generations={s.num_generations}")
    if s.rollout_batch_size % s.batch_size:
        where.fail(
            f"{p}.rollout_batch_size",
            f"{s.rollout_batch_size} is not a multiple of batch_size={s.batch_size} "
            "(a rollout round is split into whole update minibatches)",
        )
    per_round = updates_per_round(s)
    if s.steps % per_round:
        where.fail(
            f"{p}.steps",
            f"{s.steps} is not a whole number of rollout rounds of {per_round} updates "
            f"(rollout_batch_size / batch_size × num_iterations)",
        )


def _check_micro_batch(s: Stage, p: str, where: Where) -> None:
    if s.micro_batch_size > s.batch_size:
        where.fail(f"{p}.micro_batch_size", f"{s.micro_batch_size} is above batch_size={s.batch_size}")
    if s.micro_batch_size and s.batch_size % s.micro_batch_size:
        where.fail(
            f"{p}.micro_batch_size",
            f"{s.micro_batch_size} does not divide batch_size={s.batch_size} "
            "(an update accumulates whole micro-batches)",
        )
