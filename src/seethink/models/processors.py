"""Multimodal processors without torchvision.

The stock processors of video-capable VLMs (Qwen2-VL, Qwen2.5-VL, Qwen3-VL …) build a video processor, and
transformers' video processors need torchvision: without it `AutoProcessor` fails (`VIDEO_PROCESSOR_MAPPING …
_extra_content`) or silently returns only the tokenizer. seethink trains on images only, so here such a
processor is rebuilt from its image processor (the PIL implementation) and its tokenizer.

`image_only(cls)` is a subclass of the stock class that simply has no video processor. It keeps the stock
class's name, so a checkpoint saved with it names the stock class and loads normally wherever torchvision
is installed (a GPU machine).
"""

from __future__ import annotations

import dataclasses
import inspect
from functools import lru_cache
from pathlib import Path

import transformers
from transformers import AutoTokenizer, ProcessorMixin

from seethink.errors import SeethinkError
from seethink.fileio import read_json


@lru_cache(maxsize=None)
def image_only(cls: type) -> type:
    """`cls` (a stock processor class) without its video processor."""

    class ImageOnly(cls):
        @classmethod
        def get_attributes(klass):
            return [a for a in super().get_attributes() if a != "video_processor"]

        def check_argument_for_proper_class(self, name, arg):
            if name == "video_processor":
                return None
            return super().check_argument_for_proper_class(name, arg)

    ImageOnly.__name__ = ImageOnly.__qualname__ = cls.__name__
    return ImageOnly


def _pil_image_processor(spec: dict):
    kind = spec.get("image_processor_type", "")
    cls = getattr(transformers, f"{kind}Pil", None) or getattr(transformers, kind.removesuffix("Fast"), None)
    if cls is None:
        raise SeethinkError(f"unknown image processor {kind!r}")
    return cls(**{k: v for k, v in spec.items() if k not in ("image_processor_type", "processor_class")})


def load_image_only(path: Path) -> ProcessorMixin:
    """Rebuild the processor saved in `path` without a video processor (see the module docstring)."""
    cfg_file = path / "processor_config.json"
    if not cfg_file.is_file():
        raise SeethinkError(f"{path} has no processor_config.json")
    cfg = read_json(cfg_file, "processor config")
    if not isinstance(cfg, dict):
        raise SeethinkError(f"processor config {cfg_file}: expected a JSON object")
    cls = getattr(transformers, str(cfg.get("processor_class")), None)
    if cls is None or "image_processor" not in cfg:
        raise SeethinkError(
            f"{cfg_file}: processor {cfg.get('processor_class')!r} cannot be rebuilt without torchvision"
        )
    template = path / "chat_template.jinja"
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    accepted = inspect.signature(cls.__init__).parameters
    settings = {
        k: v
        for k, v in cfg.items()
        if k in accepted
        and k  # e.g. image_seq_length, num_image_tokens
        not in ("image_processor", "video_processor", "tokenizer", "chat_template")
    }
    return image_only(cls)(
        image_processor=_pil_image_processor(cfg["image_processor"]),
        tokenizer=tokenizer,
        chat_template=template.read_text() if template.is_file() else cfg.get("chat_template"),
        **settings,
    )


def bound_pixels(processor, min_pixels: int, max_pixels: int) -> bool:
    """Make `processor` resize every image into [min_pixels, max_pixels] pixels, aspect ratio kept (0: no bound),
    where its image processor sizes images by pixel count (the Qwen-VL family: `size` holds the area bounds as
    shortest_edge / longest_edge). Saved with the processor, so a stage's checkpoint carries the bounds. Returns
    whether it applied them; processors that resize every image to one fixed size need none (their image tokens
    per image are fixed)."""
    ip = getattr(processor, "image_processor", None)
    if not (min_pixels or max_pixels) or ip is None:
        return False
    if not (hasattr(ip, "merge_size") and hasattr(ip, "temporal_patch_size")):
        if getattr(ip, "do_resize", True) is False:
            raise SeethinkError(
                f"inputs.min_pixels/max_pixels: {type(ip).__name__} does not resize images, so "
                "seethink cannot bound them; resize the images, or set both to 0"
            )
        return False
    changes = {k: v for k, v in (("shortest_edge", min_pixels), ("longest_edge", max_pixels)) if v}
    size = ip.size
    ip.size = dataclasses.replace(size, **changes) if dataclasses.is_dataclass(size) else {**dict(size), **changes}
    return True
