"""The engine a run is launched on (one process, DDP, DeepSpeed ZeRO, FSDP) and the few things seethink does
differently under each: where a stage's full weights come from, how they go back in, and what a launch cannot do.

TRL and accelerate do the training itself. What they leave to the caller is the full state dict: under ZeRO-3 the
Hugging Face module holds only this process's partition, and accelerate gathers it only from the DeepSpeed
*engine* (`trainer.model_wrapped`), not from the module (`trainer.model`, where `get_state_dict` raises
AttributeError); under FSDP2 the parameters are DTensors that `torch.distributed.checkpoint` gathers and scatters.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from seethink.errors import SeethinkError


@dataclass(frozen=True)
class Launch:
    """How this run's processes split the model, read from what `accelerate launch` / `torchrun` export."""

    processes: int = 1
    sharding: str = "none"
    """none (one process or DDP) | zero1 | zero2 | zero3 | fsdp."""
    gather_16bit: bool = True
    """ZeRO-3: `stage3_gather_16bit_weights_on_model_save` (accelerate: `zero3_save_16bit_model`)."""

    @property
    def shards_parameters(self) -> bool:
        return self.sharding in ("zero3", "fsdp")


def _deepspeed_file_settings(path: str) -> tuple[int, bool]:
    try:
        cfg = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SeethinkError(f"DeepSpeed config {path}: cannot read it ({e})") from None
    zero = cfg.get("zero_optimization", {}) if isinstance(cfg, dict) else {}
    return int(zero.get("stage", 0)), bool(zero.get("stage3_gather_16bit_weights_on_model_save", False))


def current_launch(env: dict | None = None) -> Launch:
    """The launch of this process (`env`: the environment, default os.environ)."""
    env = os.environ if env is None else env
    processes = int(env.get("WORLD_SIZE", "1") or 1)
    if env.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        if env.get("ACCELERATE_DEEPSPEED_CONFIG_FILE", "none").lower() not in ("", "none"):
            stage, gather = _deepspeed_file_settings(env["ACCELERATE_DEEPSPEED_CONFIG_FILE"])
        else:
            stage = int(env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE", "2"))
            gather = env.get("ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL", "false").lower() == "true"
        return Launch(processes, "none" if stage == 0 else f"zero{stage}", gather)
    if env.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        return Launch(processes, "fsdp")
    return Launch(processes)


def check_launch(launch: Launch, lora_stages: list[str]) -> None:
    """What this launch cannot run, in one line, before anything is evaluated or trained."""
    if lora_stages and launch.shards_parameters:
        raise SeethinkError(
            f"stage {lora_stages[0]}: LoRA under {launch.sharding} is not supported (the adapters are "
            "merged into the weights at the stage's end, which are sharded); launch with DDP or ZeRO-2, "
            f"or set stages.k.lora.r: 0"
        )
    if launch.sharding == "zero3" and not launch.gather_16bit:
        raise SeethinkError(
            "DeepSpeed ZeRO-3 without zero3_save_16bit_model (stage3_gather_16bit_weights_on_model_save): "
            "no process could write a stage's full checkpoint; set it true in the accelerate or "
            "DeepSpeed config"
        )


def _is_deepspeed(trainer) -> bool:
    return getattr(trainer, "is_deepspeed_enabled", False)


def _is_zero3(trainer) -> bool:
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    return _is_deepspeed(trainer) and plugin is not None and plugin.zero_stage == 3


def full_state_dict(trainer) -> dict | None:
    """The model's full weights, under the model's own parameter names. Every process must call it (sharded weights
    need all of them); the main process gets the weights, the others may get None."""
    acc = trainer.accelerator
    if acc.num_processes == 1:
        return acc.unwrap_model(trainer.model).state_dict()
    if _is_deepspeed(trainer):  # the engine, which knows its partitions (ZeRO-3: 16-bit consolidated on rank 0)
        return acc.get_state_dict(trainer.model_wrapped)
    return acc.get_state_dict(trainer.model)  # DDP: the module's own; FSDP2: gathered by torch.distributed.checkpoint


def load_full_state_dict(trainer, weights: dict) -> None:
    """Put full weights (on every process, or at least on the main one) back into the model being trained, through
    the engine: ZeRO-3 partitions them from the main process, FSDP2 scatters them from rank 0."""
    acc = trainer.accelerator
    module = acc.unwrap_model(trainer.model)
    if _is_zero3(trainer):
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=0):
            if acc.is_main_process:
                module.load_state_dict(weights)
        return
    if getattr(acc, "is_fsdp2", False):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(module, weights, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
        return
    module.load_state_dict(weights)


@contextlib.contextmanager
def whole_model(trainer):
    """The model being trained, with every parameter whole on this process for the length of the block, so that
    each process can generate on its own share of the records with no collective inside (in-stage evaluation).
    ZeRO-3: gathered (TRL's own context for its rollouts); FSDP2: every module unsharded and kept so through the
    block's forwards; DDP, ZeRO-1/2: the module as it is. Every process must enter it."""
    acc = trainer.accelerator
    if _is_zero3(trainer):
        from trl.models import unwrap_model_for_generation

        with unwrap_model_for_generation(trainer.model_wrapped, acc, gather_deepspeed3_params=True) as model:
            yield model
        return
    if not getattr(acc, "is_fsdp2", False):
        yield acc.unwrap_model(trainer.model)
        return
    from torch.distributed.fsdp import FSDPModule

    modules = [m for m in trainer.model.modules() if isinstance(m, FSDPModule)]
    # FSDP2's documented way for evals: no reshard after forward while the block runs; each group's setting is
    # put back as it was (the root is set apart from the others)
    saved = [(g, g.post_forward_mesh_info) for m in modules for g in m._get_fsdp_state()._fsdp_param_groups]
    if modules:  # at a stage's step 0 no forward has run yet: initialise from the root, as its first forward would
        modules[0]._get_fsdp_state()._lazy_init()
    for m in modules:
        m.set_reshard_after_forward(False, recurse=False)
        m.unshard()
    try:
        yield acc.unwrap_model(trainer.model)
    finally:
        for m in modules:
            m.reshard()
        for group, info in saved:
            group.post_forward_mesh_info = info


def release(trainer) -> None:
    """Free what a finished stage holds on the accelerator (engine, optimizer state, cached blocks), so that the
    evaluation after it and the next stage start with the memory they need."""
    import gc

    import torch

    trainer.accelerator.free_memory()
    for name in ("model_wrapped", "model", "ref_model", "optimizer", "lr_scheduler"):
        if hasattr(trainer, name):
            setattr(trainer, name, None)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
