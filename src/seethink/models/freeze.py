"""Freeze the vision tower (TRL has no switch for it) by module-name patterns that cover the common VLMs.

| family              | vision modules                                  |
|---------------------|-------------------------------------------------|
| LLaVA               | vision_tower, multi_modal_projector             |
| Qwen2/2.5/3-VL      | visual (includes the patch merger)              |
| Idefics3 / SmolVLM  | vision_model, connector                         |
| InternVL, Gemma 3   | vision_tower, multi_modal_projector             |
| LLaVA-OneVision     | vision_tower, multi_modal_projector, image_newline |
"""

from __future__ import annotations

from pathlib import Path

from seethink.errors import SeethinkError
from seethink.fileio import read_json

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
        raise SeethinkError(
            f"freeze_vision: no vision modules found in {type(model).__name__} "
            f"(looked for {', '.join(VISION_PATTERNS)})"
        )
    return n


TESTED_FAMILIES = ("llava", "llava_onevision", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "idefics3", "internvl", "gemma3")
"""config.json model_types the test suite trains and evaluates (tests/test_hf_vlms.py)."""


def check_family(path: str | Path, freeze: bool) -> str:
    """Before anything runs: the folder's model_type is one transformers loads as a VLM, and (`freeze`) its vision
    modules are ones `freeze_vision` finds, read from the model built on the meta device (no memory, no weights).
    Returns the model_type; a family outside the tested ones is allowed if it passes both checks."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES as VLMS

    p = Path(path)
    cfg = read_json(p / "config.json", "model config")
    kind = cfg.get("model_type") if isinstance(cfg, dict) else None
    tested = ", ".join(TESTED_FAMILIES)
    if kind not in VLMS:
        raise SeethinkError(
            f"model {p}: config.json model_type {kind!r} is not a vision-language model transformers "
            f"loads for image-text-to-text; seethink trains VLMs (tested: {tested})"
        )
    if freeze:
        config = AutoConfig.from_pretrained(p, local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(config)
        if not any(is_vision_param(name) for name, _ in model.named_parameters()):
            raise SeethinkError(
                f"model {p}: freeze_vision finds no vision modules in {type(model).__name__} "
                f"(model_type {kind!r}; looked for {', '.join(VISION_PATTERNS)}; tested: {tested})"
            )
    return kind
