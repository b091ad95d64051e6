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
from fractions import Fraction

from seethink.mathcheck import equivalent
from seethink.seeding import derive_seed  # no worker process until the first symbolic comparison

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_ANSWER_CHARS = 200  # longer boxed content is treated as no answer (the paper scores over-complex answers 0)
MAX_NUMBER_DIGITS = 30


def extract_boxed(text: str) -> str | None:
    """Content of the last-starting complete `\\boxed{…}` (braces matched), or None. One pass over the text."""
    stack: list[int] = []  # for each open brace: content start if it opened a \boxed, else -1
    best_start, best_end = -1, -1  # content span of the last-starting complete box
    for j, ch in enumerate(text):
        if ch == "{":
            stack.append(j + 1 if j >= 6 and text.startswith("\\boxed", j - 6) else -1)
        elif ch == "}" and stack:
            start = stack.pop()
            if start > best_start:
                best_start, best_end = start, j
    return None if best_start == -1 else text[best_start:best_end].strip()


def think_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the first `<think>…</think>` block's content, or None."""
    a = text.find("<think>")
    if a == -1:
        return None
    b = text.find("</think>", a)
    return None if b == -1 else (a + len("<think>"), b)


def format_ok(text: str) -> bool:
    span = think_span(text)
    if span is None or text[: span[0] - len("<think>")].strip():
        return False
    return extract_boxed(text[span[1] + len("</think>"):]) is not None


def _strip_wrappers(s: str) -> str:
    s = s.strip()
    for prefix in ("\\text{", "\\mathrm{", "\\textbf{"):
        if s.startswith(prefix) and s.endswith("}"):
            s = s[len(prefix):-1].strip()
    s = s.strip().rstrip(".").strip()
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        s = s[1:-1].strip()
    if s.lower().startswith("option "):
        s = s[len("option "):].strip()
    return s


def parse_number(s: str) -> Fraction | None:
    s = _strip_wrappers(s).replace(",", "").replace(" ", "")
    if s.startswith("\\frac{") and s.endswith("}") and "}{" in s:
        num, den = s[len("\\frac{"):-1].split("}{", 1)
        s = f"{num}/{den}"
    if not s or sum(ch.isdigit() for ch in s) > MAX_NUMBER_DIGITS or not all(ch in "0123456789.-+/" for ch in s):
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def mcq_choice(answer: str, options: list[str]) -> int | None:
    """Index of the single option named by `answer` (letter or exact text), or None if none or several."""
    s = _strip_wrappers(answer)
    letters = LETTERS[: len(options)]
    if len(s) == 1 and s in letters:
        return letters.index(s)
    if len(s) >= 2 and s[0] in letters and s[1] in ".):" and s[2:].strip().lower() == options[letters.index(s[0])].lower():
        return letters.index(s[0])
    named = [i for i, o in enumerate(options) if s.lower() == o.lower()]
    return named[0] if len(named) == 1 else None


def accuracy(completion: str, answer: str, options: list[str] | None = None) -> float:
    pred = extract_boxed(completion)
    if pred is None or len(pred) > MAX_ANSWER_CHARS:
        return 0.0
    if options:
        gold = mcq_choice(answer, options)
        return float(gold is not None and mcq_choice(pred, options) == gold)
    a, b = parse_number(pred), parse_number(answer)
    if a is not None and b is not None:
        return float(a == b)
    p, g = _strip_wrappers(pred), _strip_wrappers(answer)
    if p.lower() == g.lower():
        return 1.0
    if not (_mathy(p) or _mathy(g)):
        return 0.0
    return float(equivalent(g, p))  # math-verify in a worker; verdicts cached


MATH_CHARS = frozenset("\\^_{}()+-*/=<>[]|")


def _mathy(s: str) -> bool:
    """Worth a symbolic comparison: LaTeX or an operator, not a word ("blue") or a number with a unit."""
    return any(ch in MATH_CHARS for ch in s)


@dataclass(frozen=True)
class Score:
    accuracy: float
    format: float

    @property
    def total(self) -> float:
        return 0.9 * self.accuracy + 0.1 * self.format


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
