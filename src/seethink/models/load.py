"""Load any Hugging Face VLM and its processor from a local folder, offline, without torchvision."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForImageTextToText, AutoProcessor, ProcessorMixin

from seethink.errors import SeethinkError
from seethink.models.processors import load_image_only


def check_model_dir(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise SeethinkError(f"model path {p} does not exist")
    if not (p / "config.json").is_file():
        raise SeethinkError(f"model path {p} is not a Hugging Face model folder (no config.json)")
    try:
        json.loads((p / "config.json").read_text())
    except json.JSONDecodeError as e:
        raise SeethinkError(f"{p / 'config.json'}: malformed JSON ({e.msg})") from None
    return p


def load_processor(path: str | Path) -> ProcessorMixin:
    p = check_model_dir(path)
    try:
        proc, problem = AutoProcessor.from_pretrained(p, local_files_only=True), None
    except (OSError, ValueError, KeyError, AttributeError) as e:  # AttributeError: video processors sans torchvision
        proc, problem = None, str(e).splitlines()[0]
    if isinstance(proc, ProcessorMixin):
        return proc
    try:
        return load_image_only(p)
    except (SeethinkError, OSError, ValueError, TypeError):
        pass
    if problem:
        raise SeethinkError(f"cannot load a processor from {p}: {problem}")
    raise SeethinkError(f"{p} has no multimodal processor (AutoProcessor returned {type(proc).__name__})")


def load_model(path: str | Path, device: str | None = None, dtype: torch.dtype | None = None):
    """Return (model, processor) for a local VLM folder; weights never come from a hub."""
    p = check_model_dir(path)
    processor = load_processor(p)
    return load_weights(p, device, dtype), processor


def load_weights(path: str | Path, device: str | None = None, dtype: torch.dtype | None = None):
    """The VLM of a local folder (checked by `check_model_dir`), in eval mode, on `device` (default: GPU if any)."""
    p = Path(path)
    try:
        model = AutoModelForImageTextToText.from_pretrained(p, local_files_only=True, dtype=dtype or torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as e:  # missing, truncated or foreign weights
        from seethink.models.checkpoints import safetensors_problem

        named = next(filter(None, (safetensors_problem(f) for f in sorted(p.glob("*.safetensors")))), None)
        raise SeethinkError(f"cannot load model weights from {p}: {named or str(e).splitlines()[0]}") from None
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.eval()
    return model


def image_token_id(model) -> int | None:
    cfg = model.config
    for key in ("image_token_index", "image_token_id"):
        if getattr(cfg, key, None) is not None:
            return int(getattr(cfg, key))
    return None
