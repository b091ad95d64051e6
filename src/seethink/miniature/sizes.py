"""The tiny VLM's size presets (`seethink.miniature.tiny` builds them), with no heavy imports: the pretraining
config and the CLI read the names from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TinySize:
    hidden: int
    layers: int
    heads: int
    vision_hidden: int
    vision_layers: int


SIZES = {
    "tiny": TinySize(hidden=128, layers=2, heads=4, vision_hidden=64, vision_layers=2),
    "tiny-v2": TinySize(hidden=128, layers=2, heads=4, vision_hidden=96, vision_layers=2),  # a wider vision tower
    "small": TinySize(hidden=192, layers=3, heads=4, vision_hidden=96, vision_layers=2),
    "medium": TinySize(hidden=256, layers=4, heads=4, vision_hidden=128, vision_layers=4),
}
