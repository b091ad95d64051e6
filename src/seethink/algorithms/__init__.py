"""The training algorithms a stage can run, by name: `stages.k.algorithm`. One module, one `Algorithm` each
(`seethink.algorithms.base` says what an algorithm provides); a new algorithm is a new module registered here."""

from __future__ import annotations

from seethink.algorithms.base import Algorithm, accumulation_steps, micro_batch
from seethink.algorithms.grpo import GRPO, round_completions
from seethink.algorithms.sft import SFT

ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (GRPO(), SFT())}
NAMES: tuple[str, ...] = tuple(ALGORITHMS)


def algorithm(stage_or_name) -> Algorithm:
    """The algorithm of a stage (or of a name the recipe has already checked)."""
    name = stage_or_name if isinstance(stage_or_name, str) else stage_or_name.algorithm
    return ALGORITHMS[name]


__all__ = [
    "ALGORITHMS",
    "NAMES",
    "Algorithm",
    "GRPO",
    "SFT",
    "accumulation_steps",
    "algorithm",
    "micro_batch",
    "round_completions",
]
