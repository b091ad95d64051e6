"""Perception facts: what a record's answer depends on seeing, machine-readable, so that a wrong answer can be
attributed to perception or reasoning without a judge.

A fact is {"attribute": count|colour|shape|size|region|relation|exists|biggest, "subject": filter,
"other": filter or None, "value": str}, where a filter is {"colour", "shape", "size"} (None = any). The
synthetic world writes exact facts; imported data may carry its own.
"""

from __future__ import annotations


def subject_filter(colour=None, shape=None, size=None) -> dict:
    return {"colour": colour, "shape": shape, "size": size}


def fact(attribute: str, subject: dict, value, other: dict | None = None) -> dict:
    return {
        "attribute": attribute,
        "subject": subject_filter(**subject),
        "other": None if other is None else subject_filter(**other),
        "value": str(value),
    }


def noun_phrase(f: dict, plural: bool = False, article: bool = False) -> str:
    """A filter in words: {"colour": "red", "shape": "circle"} -> "red circle(s)"; {} -> "object(s)"."""
    words = [f[k] for k in ("size", "colour") if f.get(k)]
    noun = f.get("shape") or "object"
    if plural:
        noun += "es" if noun.endswith("s") else "s"
    phrase = " ".join(words + [noun])
    if article and not plural:
        phrase = "the " + phrase
    return phrase
