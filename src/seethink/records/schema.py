"""The record schema shared by every step (world, training, pass@K, evaluation, attribution).

Compatible with the paper's released rows (`problem`, `answer`, `images`, `pass_rate`), plus:
    id          unique string
    capability  perception | text_reasoning | visual_reasoning
    family      question family (count, subtract, word_problem, caption, …) or "" when unknown
    options     list of option texts for an MCQ (gold `answer` is then the letter A–D), else None
    caption     dense description of the image, when known
    facts       perception facts the answer depends on, when known (exact for the synthetic world)
    difficulty  a number, larger = harder (world: steps/hops/objects)
    solution    a reference completion in the answer format, when known (used for SFT)
    source      where the record came from
Unknown extra columns pass through untouched.
"""

from __future__ import annotations

import re
from typing import Literal, TypedDict, get_args

from seethink.errors import SeethinkError

Capability = Literal["perception", "text_reasoning", "visual_reasoning"]
CAPABILITIES: tuple[str, ...] = get_args(Capability)
SPLITS = ("train", "validation", "test")
SPLIT_NAME = re.compile(r"\w+(\.\w+)*", re.ASCII)  # Hugging Face datasets' rule: no path separator, no leading dot
LIMITS = {
    "id": 256,
    "problem": 20_000,
    "answer": 20_000,
    "option": 2_000,
    "images": 16,
    "caption": 20_000,
    "solution": 20_000,
}
"""The longest text (characters) or list a record field may hold. A bound, not a taste: a prompt of 500,000
characters otherwise tokenises into minutes of generation that nothing stops; real problems are far shorter."""


def check_split_name(name: str, where: str = "--split") -> str:
    """A split name is a file name inside a dataset folder: letters, digits, `_`, inner dots (train, test.hard)."""
    if not isinstance(name, str) or not SPLIT_NAME.fullmatch(name) or len(name) > 100:
        raise SeethinkError(
            f"{where}: {name!r} is not a split name (letters, digits, '_' and inner '.'; e.g. train, validation, test)"
        )
    return name


class Record(TypedDict, total=False):
    """One record, as `validate_record` returns it (the first four fields are required on input)."""

    id: str
    problem: str
    answer: str
    capability: Capability
    images: list[str]
    family: str
    options: list[str] | None
    caption: str | None
    facts: list[dict]
    difficulty: float | None
    pass_rate: float | None
    solution: str | None
    source: str


REQUIRED = {"id": str, "problem": str, "answer": str, "capability": str}
OPTIONAL_DEFAULTS = {
    "images": list,
    "family": lambda: "",
    "options": lambda: None,
    "caption": lambda: None,
    "facts": list,
    "difficulty": lambda: None,
    "pass_rate": lambda: None,
    "solution": lambda: None,
    "source": lambda: "",
}


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _check_sizes(rec: dict, where: str) -> None:
    for key in ("id", "problem", "answer", "caption", "solution"):
        v = rec.get(key)
        if isinstance(v, str) and len(v) > LIMITS[key]:
            raise SeethinkError(f"{where}: field '{key}' has {len(v):,} characters; the limit is {LIMITS[key]:,}")
    if len(rec["images"]) > LIMITS["images"]:
        raise SeethinkError(
            f"{where}: field 'images' lists {len(rec['images'])} images; the limit is {LIMITS['images']}"
        )
    if any(len(o) > LIMITS["option"] for o in rec["options"] or ()):
        raise SeethinkError(f"{where}: an option is longer than {LIMITS['option']:,} characters")


def validate_record(rec: dict, where: str) -> Record:
    """Check required fields and types, fill optional defaults; raise one line naming `where` and the field."""
    if not isinstance(rec, dict):
        raise SeethinkError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    for key, typ in REQUIRED.items():
        if key not in rec or rec[key] is None:
            raise SeethinkError(f"{where}: missing required field '{key}'")
        if key == "answer" and isinstance(rec[key], (int, float)) and not isinstance(rec[key], bool):
            try:
                rec[key] = str(rec[key])
            except ValueError:  # Python refuses int → str past 4,300 digits
                raise SeethinkError(f"{where}: field 'answer' is a number with more than 4,300 digits") from None
        if not isinstance(rec[key], typ):
            raise SeethinkError(f"{where}: field '{key}' must be {typ.__name__}, got {type(rec[key]).__name__}")
    if rec["capability"] not in CAPABILITIES:
        raise SeethinkError(
            f"{where}: field 'capability' is {rec['capability']!r}; expected one of {', '.join(CAPABILITIES)}"
        )
    if not rec["answer"].strip():
        raise SeethinkError(
            f"{where}: field 'answer' is empty (an empty gold answer would reward an empty \\boxed{{}})"
        )
    for key, default in OPTIONAL_DEFAULTS.items():
        if rec.get(key) is None:
            rec[key] = default()
    if isinstance(rec["images"], str):
        rec["images"] = [rec["images"]]
    if not isinstance(rec["images"], list) or not all(isinstance(p, str) for p in rec["images"]):
        raise SeethinkError(f"{where}: field 'images' must be a list of image paths")
    opts = rec["options"]
    if opts is not None and (
        not isinstance(opts, list) or not all(isinstance(o, str) for o in opts) or not 2 <= len(opts) <= 26
    ):
        raise SeethinkError(f"{where}: field 'options' must be a list of 2–26 strings")
    if opts is not None and rec["answer"].strip().upper() not in LETTERS[: len(opts)]:
        raise SeethinkError(
            f"{where}: field 'answer' is {rec['answer'][:40]!r}, not one of the option letters "
            f"{LETTERS[0]}–{LETTERS[len(opts) - 1]}"
        )
    _check_sizes(rec, where)
    if not isinstance(rec["facts"], list) or not all(
        isinstance(f, dict) and isinstance(f.get("attribute"), str) and "value" in f for f in rec["facts"]
    ):
        raise SeethinkError(f"{where}: field 'facts' must be a list of objects with 'attribute' and 'value'")
    for key, low, high in (("pass_rate", 0, 1), ("difficulty", float("-inf"), float("inf"))):
        v = rec[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high):
            raise SeethinkError(
                f"{where}: field '{key}' must be a number{' in [0, 1]' if key == 'pass_rate' else ''}, got {v!r}"
            )
    return rec
