"""A stage's budget arithmetic: rollout rounds, the updates each feeds, micro-batches, rollouts sampled."""

from __future__ import annotations

from seethink.recipe.stage import Stage


def round_completions(stage: Stage) -> int:
    """Completions one GRPO rollout round samples per device (`rollout_batch_size`; 0 means `batch_size`)."""
    return stage.rollout_batch_size or stage.batch_size


def updates_per_round(stage: Stage) -> int:
    """Optimizer updates one GRPO rollout round feeds: its minibatches, each used num_iterations times."""
    return round_completions(stage) // stage.batch_size * stage.num_iterations


def rollouts(stage: Stage) -> int:
    """Completions a GRPO stage samples per device (SFT: examples it trains on)."""
    if stage.algorithm != "grpo":
        return stage.steps * stage.batch_size
    return stage.steps // stage.num_iterations * stage.batch_size


def micro_batch(stage: Stage) -> int:
    """Sequences per device in one forward/backward pass (`micro_batch_size`; 0 means `batch_size`)."""
    return stage.micro_batch_size or stage.batch_size


def accumulation_steps(stage: Stage) -> int:
    """Forward/backward passes whose gradients one update accumulates (TRL's gradient_accumulation_steps)."""
    return stage.batch_size // micro_batch(stage)
