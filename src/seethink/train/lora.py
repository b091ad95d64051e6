"""LoRA adapters through peft, as a stage option (`stages.k.lora.r > 0`).

TRL wraps the model with the peft config it is given; seethink picks the target modules (the language model's
linear layers, the vision tower's only when asked, never the output head) and merges the adapters into the
weights when the stage ends, so every checkpoint is a plain HF model and stage chaining is unchanged. An
in-stage checkpoint holds only the adapters: a resumed stage starts from the stage's starting weights and the
Trainer restores the adapters.
With beta > 0, TRL uses the model with its adapters disabled as the KL reference: no second copy in memory.
"""

from __future__ import annotations

import torch

from seethink.errors import SeethinkError
from seethink.models.freeze import is_vision_param
from seethink.recipe import Lora


def _peft():
    try:
        import peft
    except ImportError:
        raise SeethinkError("LoRA stages need peft: pip install 'seethink[lora]'") from None
    return peft


def target_modules(model, lora: Lora) -> list[str]:
    wanted = (
        None
        if lora.target_modules == "all-linear"
        else [t.strip() for t in lora.target_modules.split(",") if t.strip()]
    )
    names = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or name.split(".")[-1] == "lm_head":
            continue
        if is_vision_param(name) and not lora.include_vision:
            continue
        if wanted is None or any(name == w or name.endswith("." + w) for w in wanted):
            names.append(name)
    if not names:
        raise SeethinkError(
            f"lora.target_modules {lora.target_modules!r} matches no linear layer of {type(model).__name__}"
        )
    return names


def lora_config(model, lora: Lora):
    peft = _peft()
    return peft.LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=target_modules(model, lora)
    )


def merged(model):
    """The plain model with the adapters folded into its weights (a model without adapters as it is)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
