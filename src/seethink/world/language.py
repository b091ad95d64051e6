"""Noun phrases and captions: how the world's scene graph is put into words."""

from __future__ import annotations

from seethink.world.scene import Obj, Scene


def noun_phrase(f: dict, plural: bool = False, article: bool = False) -> str:
    """{"colour": "red", "shape": "circle"} -> "red circle(s)"; {} -> "object(s)"."""
    words = [f[k] for k in ("size", "colour") if f.get(k)]
    noun = f.get("shape") or "object"
    if plural:
        noun += "es" if noun.endswith("s") else "s"
    phrase = " ".join(words + [noun])
    if article and not plural:
        phrase = "the " + phrase
    return phrase


def region_phrase(region: str) -> str:
    return "in the centre" if region == "centre" else f"at the {region}"


def describe_object(o: Obj) -> str:
    return f"a {o.size} {o.colour} {o.shape} {region_phrase(o.region)}"


def caption(scene: Scene) -> str:
    """A dense caption (the DOCCI analogue): the object count, then every object with all attributes."""
    n = len(scene.objects)
    head = "There is 1 object." if n == 1 else f"There are {n} objects."
    parts = [head] + [describe_object(o)[0].upper() + describe_object(o)[1:] + "." for o in scene.objects]
    return " ".join(parts)
