"""Freeze the vision tower (TRL has no switch for it) by module-name patterns that cover the common VLMs.

| family              | vision modules                                  |
|---------------------|-------------------------------------------------|
| LLaVA               | vision_tower, multi_modal_projector             |
| Qwen2/2.5/3-VL      | visual (includes the patch merger)              |
| Idefics3 / SmolVLM  | vision_model, connector                         |
"""

from __future__ import annotations

from seethink.errors import SeethinkError

VISION_PATTERNS = ("vision_tower", "multi_modal_projector", "visual", "vision_model", "connector", "image_newline")


def is_vision_param(name: str) -> bool:
    parts = name.split(".")
    return any(p in VISION_PATTERNS for p in parts)


def freeze_vision(model) -> int:
    """Set requires_grad=False on every vision parameter; return how many tensors were frozen."""
    n = 0
    for name, p in model.named_parameters():
        if is_vision_param(name):
            p.requires_grad_(False)
            n += 1
    if n == 0:
        raise SeethinkError(f"freeze_vision: no vision modules found in {type(model).__name__} "
                            f"(looked for {', '.join(VISION_PATTERNS)})")
    return n
