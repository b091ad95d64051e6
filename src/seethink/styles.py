"""Answer styles a completion can take, told apart by how its reasoning opens: worked reasoning, or one of the
short styles the miniature's bases are pretrained with (`seethink.miniature.pretrain`): a terse answer (`Answer:`,
right without working), a guess (`Guess:`) or a quick answer (`Quick:`, a guess under its own opening). Evaluation
reports trace length on correct worked answers (issue 35), so a model cannot shorten its traces by answering
tersely; on a model that never uses these openings every answer counts as worked."""

from __future__ import annotations

from seethink.grading import THINK_OPEN

OPENINGS = {"terse": "Answer:", "guess": "Guess:", "quick": "Quick:"}
"""How the reasoning of the terse, the guessing and the quick style opens: each with a first token of its own."""


def style_of(completion: str) -> str:
    """The answer style a completion is written in, by how its reasoning opens: terse, guess, quick or worked
    (the miniature's `look` style cannot be told from worked reasoning by its opening, so it counts as worked)."""
    text = completion.lstrip()
    return next((name for name, opening in OPENINGS.items() if text.startswith(f"{THINK_OPEN}{opening} ")), "worked")
