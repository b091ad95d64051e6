"""Text reasoning: multi-step add/subtract word problems (no image), and the chain of steps that base v5's
visual-reasoning stories (`seethink.miniature.world.families_v5`) run from a number read off the image."""

from __future__ import annotations

import random

from seethink.miniature.world.families import Candidate

NAMES = ("Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana")
ITEMS = ("apples", "marbles", "stickers", "coins", "books", "shells")
GAIN = ("gets {k} more", "finds {k} more", "buys {k} more")
LOSS = ("gives away {k}", "loses {k}", "uses {k}")


def person(rng: random.Random) -> tuple[str, str, str]:
    """A word problem's (name, item, pronoun)."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    return name, item, "she" if name in ("Ann", "Cara", "Fay", "Hana") else "he"


def chain(
    rng: random.Random, value: int, steps: int, pronoun: str, max_operand: int, max_value: int = 0
) -> tuple[list[str], list[str], int]:
    """`steps` add/subtract steps from `value`, never below 0 (nor above `max_value`, if set): their sentences,
    their reasoning lines ("7 + 4 = 11.") and the final value."""
    sentences, lines = [], []
    for i in range(steps):
        k = rng.randint(1, max_operand)
        if value - k >= 0 and (rng.random() < 0.5 or (max_value and value + k > max_value)):
            verb, new, op = rng.choice(LOSS), value - k, "-"
        else:
            verb, new, op = rng.choice(GAIN), value + k, "+"
        clause = f"{pronoun} {verb.format(k=k)}."
        sentences.append(f"Then {clause}" if i else clause.capitalize())
        lines.append(f"{value} {op} {k} = {new}.")
        value = new
    return sentences, lines, value


def word_problem(
    rng: random.Random, steps: int, max_start: int = 40, max_operand: int = 20, max_value: int = 0
) -> Candidate:
    """A multi-step add/subtract word problem; the value never goes negative (nor above `max_value`, if set)."""
    name, item, pronoun = person(rng)
    start = rng.randint(2, max_start)
    sentences, lines, value = chain(rng, start, steps, pronoun, max_operand, max_value)
    question = " ".join([f"{name} has {start} {item}.", *sentences, f"How many {item} does {name} have now?"])
    return Candidate(question, str(value), [], lines)
