"""Multiple-choice questions: the problem text layout, balanced correct letters, and reading options back.

Every MCQ in seethink reads `question\nA. option\nB. option…`; the gold answer is the letter. Letters of
correct answers are dealt from shuffled blocks of ABCD so each letter is gold equally often: a policy trained
with RL finds a letter prior within minutes (see NOTES on the miniature).
"""

from __future__ import annotations

import random
import re

LETTERS = "ABCD"


class LetterDealer:
    """Deals correct-answer letters in shuffled blocks of ABCD: counts never differ by more than one block."""

    def __init__(self, rng: random.Random):
        self.rng, self.block = rng, []

    def __call__(self) -> str:
        if not self.block:
            self.block = list(LETTERS)
            self.rng.shuffle(self.block)
        return self.block.pop()


def format_mcq(question: str, options: list[str]) -> str:
    return question + "\n" + "\n".join(f"{'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i]}. {o}" for i, o in enumerate(options))


def place_answer(correct: str, wrong: list[str], letter: str) -> list[str]:
    """The options with `correct` at `letter`'s position and the wrong ones around it in the given order."""
    k = LETTERS.index(letter)
    return wrong[:k] + [correct] + wrong[k:]


_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])\s*[.:)]\s*(.+?)\s*$")


def split_options(text: str) -> tuple[str, list[str]] | None:
    """(question, options) from a problem whose last lines are `A. …`, `B: …` or `(C) …`, lettered from A in
    order; None if the text does not end in such a list of at least two options. An `Options:` line is dropped."""
    lines = text.rstrip().splitlines()
    found: list[tuple[str, str]] = []
    while lines and (m := _OPTION_LINE.match(lines[-1])):
        found.insert(0, (m.group(1), m.group(2)))
        lines.pop()
        if m.group(1) == "A":
            break
    letters = "".join(letter for letter, _ in found)
    if len(found) < 2 or letters != "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(found)] or not any(ln.strip() for ln in lines):
        return None
    question = "\n".join(lines).rstrip()
    if question.lower().endswith("options:"):
        question = question[: -len("options:")].rstrip()
    return question, [o for _, o in found]
