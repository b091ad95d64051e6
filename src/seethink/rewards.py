"""Answer extraction and scoring: the final answer is the last `\\boxed{…}`, reasoning sits in `<think>…</think>`.

All parsing is linear-time string scanning (no regex backtracking, no eval), so adversarial completions
(10,000 nested braces, huge numbers, unterminated tags) return at once.

    accuracy  1 if the last boxed answer matches the gold answer, else 0
              MCQ (record has options): the letter, or the exact option text; naming several options scores 0
              otherwise: numeric equality (ints, decimals, fractions), else normalised string equality, else
              symbolic equivalence by math-verify under a hard time limit (`seethink.mathcheck`)
    format    1 if the completion is `<think>…</think>` followed by a `\\boxed{…}` answer, else 0
    total     0.9·accuracy + 0.1·format (the paper's weighting)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# the grading itself lives in seethink.grading (standard library only: the EasyR1 export ships it); re-exported here
from seethink.grading import (  # noqa: F401
    LETTERS,
    MAX_ANSWER_CHARS,
    extract_boxed,
    format_ok,
    mcq_choice,
    parse_number,
    think_span,  # noqa: F401
)
from seethink.grading import accuracy as _accuracy
from seethink.mathcheck import equivalent
from seethink.seeding import derive_seed  # no worker process until the first symbolic comparison


def accuracy(completion: str, answer: str, options: list[str] | None = None) -> float:
    """`seethink.grading.accuracy` with symbolic equivalence by math-verify in a worker (verdicts cached)."""
    return _accuracy(completion, answer, options, equivalent)


@dataclass(frozen=True)
class Score:
    accuracy: float
    format: float

    @property
    def total(self) -> float:
        """The paper's weighting (`DEFAULT_REWARD`), the evaluation's `reward` column whatever a recipe trains on."""
        return DEFAULT_REWARD["accuracy"] * self.accuracy + DEFAULT_REWARD["format"] * self.format


def score(completion: str, answer: str, options: list[str] | None = None) -> Score:
    return Score(accuracy(completion, answer, options), float(format_ok(completion)))


# ---------------------------------------------------------------- TRL reward functions and their registry


def completion_text(completion) -> str:
    """TRL passes plain strings, or for conversational data a list of messages ending in the assistant's."""
    if isinstance(completion, str):
        return completion
    return completion[-1]["content"] if completion else ""


def accuracy_reward(completions, answer, options=None, **_) -> list[float]:
    options = options or [None] * len(completions)
    return [accuracy(completion_text(c), a, o) for c, a, o in zip(completions, answer, options)]


def format_reward(completions, **_) -> list[float]:
    return [float(format_ok(completion_text(c))) for c in completions]


def shuffled_within_groups(reward_fn, seed: int = 0):
    """The null control: `reward_fn`'s rewards permuted at random among the completions of the same prompt.

    A group keeps exactly its multiset of rewards, so its mean, spread and the logged means are unchanged, but
    which completion earned which reward is noise: a GRPO update from these rewards has the size of a real one and
    no signal. A gain over the starting model that this control also shows is not learning from the reward.
    Groups are runs of equal `id` (TRL lays out a prompt's completions side by side). The permutation is seeded by
    the seed and the batch itself, so every reward function of one batch gets the same one and the total reward
    is permuted consistently."""

    def shuffled(completions, id, **kw):
        values = list(reward_fn(completions=completions, id=id, **kw))
        rng = random.Random(derive_seed(seed, *id, *map(completion_text, completions)))
        out, start = list(values), 0
        while start < len(id):
            end = start
            while end < len(id) and id[end] == id[start]:
                end += 1
            order = list(range(start, end))
            rng.shuffle(order)
            for i, j in zip(range(start, end), order):
                out[i] = values[j]
            start = end
        return out

    shuffled.__name__ = reward_fn.__name__  # TRL logs a reward's columns under its function's name
    return shuffled


REWARDS = {"accuracy": accuracy_reward, "format": format_reward}
DEFAULT_REWARD = {"accuracy": 0.9, "format": 0.1}  # the paper's 0.9·accuracy + 0.1·format
