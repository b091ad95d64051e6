"""How a record becomes a chat prompt, in one place so training, pass@K and evaluation agree.

The instruction is appended to the user turn (as in the paper's training), with the paper's tags spelled
consistently (`<think>`, not `<thinking>`), and never contradicted by an "answer with the letter only" line.
Caption records (family "caption") get no instruction: their answer is free text.
"""

from __future__ import annotations

from seethink.grading import THINK_CLOSE, THINK_OPEN, boxed

INSTRUCTION = f"Think inside {THINK_OPEN}{THINK_CLOSE}, then give the final answer in {boxed('')}."


def user_content(record: dict) -> list[dict]:
    text = record["problem"] if record.get("family") == "caption" else f"{record['problem']}\n{INSTRUCTION}"
    return [{"type": "image"} for _ in record.get("images") or []] + [{"type": "text", "text": text}]


def prompt_messages(record: dict) -> list[dict]:
    """The conversational prompt TRL expects: [{"role": "user", "content": [...]}]."""
    return [{"role": "user", "content": user_content(record)}]


def target_text(record: dict) -> str:
    """The reference completion used for supervised training."""
    return record.get("solution") or record["answer"]
