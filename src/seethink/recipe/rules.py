"""Rules across a recipe's fields (each dataclass checks its own values)."""

from __future__ import annotations

from seethink.algorithms import ALGORITHMS, algorithm
from seethink.configs import Where
from seethink.recipe.schema import Recipe
from seethink.recipe.stage import Stage, keep_metric


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
        and any(algorithm(s).samples for s in recipe.stages)
    ):
        where.fail(
            "inputs.max_prompt_length",
            "rollouts.engine vllm sizes its KV cache from the prompt bound "
            "(+ max_completion_length): set it (the paper: 2048) or rollouts.vllm_max_model_len",
        )
    for i, s in enumerate(recipe.stages):
        p = f"stages.{i}"
        algorithm(s).check(s, p, where, list(ALGORITHMS.values()))
        _check_micro_batch(s, p, where)
        if s.lora.r and recipe.hardware.sharding in ("zero3", "fsdp"):
            where.fail(
                f"{p}.lora.r",
                f"LoRA with hardware.sharding {recipe.hardware.sharding} is not supported: the "
                "adapters are merged into sharded weights at the stage's end; use zero2 or none (DDP), or r: 0",
            )
        if s.lora.r and s.lora.include_vision and s.freeze_vision:
            where.fail(f"{p}.lora.include_vision", "contradicts freeze_vision: true")
        if keep_metric(s.keep) and not recipe.eval.every:
            where.fail(f"{p}.keep", f"{s.keep} picks among in-stage evaluations; set eval.every (e.g. 10)")


def _check_micro_batch(s: Stage, p: str, where: Where) -> None:
    if s.micro_batch_size > s.batch_size:
        where.fail(f"{p}.micro_batch_size", f"{s.micro_batch_size} is above batch_size={s.batch_size}")
    if s.micro_batch_size and s.batch_size % s.micro_batch_size:
        where.fail(
            f"{p}.micro_batch_size",
            f"{s.micro_batch_size} does not divide batch_size={s.batch_size} "
            "(an update accumulates whole micro-batches)",
        )
