"""A stage's budget arithmetic, as its algorithm (`seethink.algorithms`) counts it: rounds of data, the updates
each feeds, micro-batches, rollouts sampled."""

from __future__ import annotations

from seethink.algorithms import accumulation_steps, algorithm, micro_batch, round_completions
from seethink.recipe.stage import Stage

__all__ = ["accumulation_steps", "micro_batch", "rollouts", "round_completions", "updates_per_round"]


def updates_per_round(stage: Stage) -> int:
    """Optimizer updates one round of the stage's data feeds (GRPO: a rollout round's minibatches × num_iterations;
    SFT: 1)."""
    return algorithm(stage).updates_per_round(stage)


def rollouts(stage: Stage) -> int:
    """Completions a GRPO stage samples per device (SFT: examples it trains on)."""
    return algorithm(stage).rollouts(stage)
