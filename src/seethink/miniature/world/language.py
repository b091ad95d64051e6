"""Captions and place names: how the world's scene graph is put into words (noun phrases: `records.facts`)."""

from __future__ import annotations

from seethink.miniature.world.scene import Obj, Scene


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
