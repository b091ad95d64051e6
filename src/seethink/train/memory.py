"""The memory plan: what one GPU holds at the peak of each stage, estimated from the model's config.json and the
recipe before anything runs (`seethink train RECIPE --dry-run`, and before training on GPUs).

Per GPU, in bytes, with P parameters (T of them trainable), N GPUs and bf16 mixed precision with AdamW:
- model states. DDP/one GPU (`none`): fp32 weights, gradients and Adam moments, 4P + 4T + 8T. ZeRO-2:
  DeepSpeed's own estimate, 2P (bf16 weights) + 18T/N (bf16 and fp32 gradients, fp32 master, Adam moments).
  ZeRO-3: DeepSpeed's estimate, 2(P - T)/N + 18T/N + 4L, L the largest layer's parameters (gathered in turn). FSDP2 with
  accelerate's bf16: sharded fp32 weights, gradients, moments (16T + 4(P-T))/N + 4L (a bf16 block being used and
  the next one prefetched).
- activations of one micro-batch of m sequences of S = prompt + completion tokens, hidden h, MLP width i, layers n:
  with gradient checkpointing (TRL's default) the layer inputs m·S·h·2·n plus one layer recomputed
  m·S·(16h + 3i)·2; without, that working set in every layer. The log-probabilities: logits of the completion
  tokens only (TRL's logits_to_keep), in fp32, and their gradient: m·C·V·8. The vision tower likewise, per image of
  `max_pixels` / patch² patches.
- reference model (beta > 0): TRL builds it in the policy's dtype (fp32 as seethink loads it; bf16 once DeepSpeed
  casts it), sharded like the policy under ZeRO-3 / FSDP.
- rollouts with transformers' generate: TRL generates a whole rollout round per GPU at once, so its KV cache is
  R·S·n·2·kv_heads·head_dim·2 for R completions; under ZeRO-3 the full bf16 weights are gathered for it (2P). With
  vLLM colocated, vLLM's share of the GPU (`rollouts.vllm_gpu_memory_utilization`); in server mode, none here.
- 3 GB for the CUDA context, NCCL buffers and allocator slack.
The peak is model states + reference + the larger of training and rollouts (their sum with vLLM colocated, whose
share stays reserved while the policy trains). Activations are an estimate (±30%);
model states follow DeepSpeed's formulas exactly (tests compare with deepspeed's estimators).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seethink.algorithms import algorithm
from seethink.errors import SeethinkError
from seethink.recipe import Recipe, Stage, micro_batch, round_completions

GB = 1e9
OVERHEAD = 3 * GB
ASSUMED_PROMPT = 1024
"""Prompt tokens assumed where the recipe sets no `inputs.max_prompt_length`."""


@dataclass(frozen=True)
class Shape:
    """What the plan needs of a model: parameter counts and the dimensions that size activations and caches."""

    params: int
    vision_params: int
    largest_layer: int
    hidden: int
    intermediate: int
    layers: int
    kv_heads: int
    head_dim: int
    vocab: int
    vision_hidden: int = 0
    vision_layers: int = 0
    patch: int = 14


def _get(cfg, *names, default=0):
    for n in names:
        v = getattr(cfg, n, None)
        if v is not None:
            return v
    return default


def model_shape(model_dir: str | Path) -> Shape:
    """The `Shape` of the model in `model_dir`, from its config.json alone (built on the meta device: no weights
    are read or allocated)."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    from seethink.models.freeze import is_vision_param

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise SeethinkError(f"memory plan: {path} has no config.json (the plan reads the model's config only)")
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the published configs' own deprecation notes (rope_scaling) are not ours
    try:
        cfg = AutoConfig.from_pretrained(path, local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(cfg)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SeethinkError(f"memory plan: cannot build {path / 'config.json'}: {str(e).splitlines()[0]}") from None
    finally:
        hf_logging.set_verbosity(level)
    named = dict(model.named_parameters())
    text = getattr(cfg, "text_config", None) or getattr(cfg, "llm_config", None) or cfg
    vision = getattr(cfg, "vision_config", None)
    heads = _get(text, "num_attention_heads")
    hidden = _get(text, "hidden_size")
    return Shape(
        params=sum(p.numel() for p in named.values()),
        vision_params=sum(p.numel() for k, p in named.items() if is_vision_param(k)),
        largest_layer=max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules()),
        hidden=hidden,
        intermediate=_get(text, "intermediate_size"),
        layers=_get(text, "num_hidden_layers"),
        kv_heads=_get(text, "num_key_value_heads", default=heads),
        head_dim=_get(text, "head_dim", default=hidden // max(heads, 1)),
        vocab=_get(text, "vocab_size"),
        vision_hidden=_get(vision, "hidden_size", "embed_dim"),
        vision_layers=_get(vision, "depth", "num_hidden_layers"),
        patch=_side(_get(vision, "patch_size", default=14)),
    )


def _side(patch) -> int:
    """A patch size given as one number or as (height, width): its side (square patches)."""
    return int(patch[0] if isinstance(patch, (list, tuple)) else patch)


def model_states(shape: Shape, trainable: int, sharding: str, gpus: int) -> dict[str, float]:
    """Bytes per GPU of weights, gradients and optimizer state (see the module docstring)."""
    p, t, n, big = shape.params, trainable, gpus, shape.largest_layer
    # DeepSpeed's 18 bytes per trainable parameter, split: bf16 + fp32 gradients 6, fp32 master + Adam moments 12
    if sharding == "zero1":  # a launch's own setting (recipes plan zero2/zero3): gradients whole, optimizer sharded
        return {"weights": 2 * p, "gradients": 2 * t + 4 * t / n, "optimizer": 12 * t / n}
    if sharding == "zero2":
        return {"weights": 2 * p, "gradients": 6 * t / n, "optimizer": 12 * t / n}
    if sharding == "zero3":
        return {"weights": 2 * (p - t) / n + 4 * big, "gradients": 6 * t / n, "optimizer": 12 * t / n}
    if sharding == "fsdp":
        return {"weights": 4 * p / n + 4 * big, "gradients": 4 * t / n, "optimizer": 8 * t / n}
    return {"weights": 4 * p, "gradients": 4 * t, "optimizer": 8 * t}


def _layer_set(shape: Shape, tokens: int) -> float:
    return tokens * (16 * shape.hidden + 3 * shape.intermediate) * 2


def activations(
    shape: Shape, micro: int, prompt: int, completion: int, checkpointing: bool, image_patches: int
) -> float:
    """Bytes of one micro-batch's forward and backward (see the module docstring)."""
    tokens = micro * (prompt + completion)
    text = (
        (tokens * shape.hidden * 2 * shape.layers + _layer_set(shape, tokens))
        if checkpointing
        else _layer_set(shape, tokens) * shape.layers
    )
    logits = micro * completion * shape.vocab * 8
    vision = 0.0
    if shape.vision_layers and image_patches:
        vt = micro * image_patches
        one = vt * 16 * shape.vision_hidden * 2
        vision = (
            vt * shape.vision_hidden * 2 * shape.vision_layers + one if checkpointing else one * shape.vision_layers
        )
    return text + logits + vision


def rollout_memory(
    shape: Shape,
    completions: int,
    prompt: int,
    completion: int,
    engine: str,
    vllm_share: float,
    gpu_bytes: float,
    vllm_mode: str,
    sharding: str,
) -> float:
    if engine == "vllm":
        return vllm_share * gpu_bytes if vllm_mode == "colocate" else 0.0
    kv = completions * (prompt + completion) * shape.layers * 2 * shape.kv_heads * shape.head_dim * 2
    gathered = 2 * shape.params if sharding == "zero3" else 0.0
    return kv + completions * shape.vocab * 4 + gathered


def reference_memory(shape: Shape, sharding: str, gpus: int) -> float:
    return {"zero3": 2 * shape.params / gpus, "fsdp": 4 * shape.params / gpus, "zero2": 2 * shape.params}.get(
        sharding, 4 * shape.params
    )


@dataclass(frozen=True)
class StagePlan:
    stage: str
    index: int
    parts: dict
    """Bytes per GPU of each part: weights, gradients, optimizer, reference, activations, rollouts."""
    gpu_bytes: float

    resident_rollouts: bool = False
    """vLLM colocated: its share of the GPU is held through training too (TRL's colocate mode without sleep)."""

    @property
    def peak(self) -> float:
        p = self.parts
        phases = p["activations"] + p["rollouts"] if self.resident_rollouts else max(p["activations"], p["rollouts"])
        return p["weights"] + p["gradients"] + p["optimizer"] + p["reference"] + phases + OVERHEAD

    @property
    def fits(self) -> bool:
        return self.peak <= self.gpu_bytes

    def advice(self) -> str:
        """The field to change, for the part that dominates."""
        p, k = self.parts, f"stages.{self.index}"
        biggest = max(
            ("activations", "rollouts", "states"),
            key=lambda n: p["weights"] + p["gradients"] + p["optimizer"] if n == "states" else p[n],
        )
        return {
            "activations": f"lower {k}.micro_batch_size",
            "rollouts": f"lower {k}.rollout_batch_size or use rollouts.engine: vllm",
            "states": "shard further (hardware.sharding: zero3) or use more GPUs",
        }[biggest]


def plan_stage(
    stage: Stage, index: int, recipe: Recipe, shape: Shape, sharding: str, gpus: int, checkpointing: bool
) -> StagePlan:
    trainable = shape.params - (shape.vision_params if stage.freeze_vision else 0)
    prompt = recipe.inputs.max_prompt_length or ASSUMED_PROMPT
    completion = stage.max_completion_length
    patches = recipe.inputs.max_pixels // (shape.patch * shape.patch) if recipe.inputs.max_pixels else 0
    gpu_bytes = recipe.hardware.gpu_memory_gb * GB
    ro = recipe.rollouts
    samples = algorithm(stage).samples
    parts = {
        **model_states(shape, trainable, sharding, gpus),
        "reference": reference_memory(shape, sharding, gpus) if stage.beta > 0 and samples else 0.0,
        "activations": activations(shape, micro_batch(stage), prompt, completion, checkpointing, patches),
        "rollouts": rollout_memory(
            shape,
            round_completions(stage),
            prompt,
            completion,
            ro.engine,
            ro.vllm_gpu_memory_utilization,
            gpu_bytes,
            ro.vllm_mode,
            sharding,
        )
        if samples
        else 0.0,
    }
    colocated = ro.engine == "vllm" and ro.vllm_mode == "colocate" and samples
    return StagePlan(stage.name, index, parts, gpu_bytes, resident_rollouts=colocated)


def plan(recipe: Recipe, shape: Shape, sharding: str, gpus: int, checkpointing: dict[str, bool]) -> list[StagePlan]:
    return [
        plan_stage(s, k, recipe, shape, sharding, gpus, checkpointing.get(s.name, True))
        for k, s in enumerate(recipe.stages)
    ]


def table(plans: list[StagePlan], sharding: str, gpus: int, assumed_prompt: bool) -> str:
    cols = ("weights", "gradients", "optimizer", "reference", "activations", "rollouts")
    head = f"memory plan per GPU ({gpus} GPU(s), sharding {sharding}; GB)"
    lines = [head, f"  {'stage':<18}" + "".join(f"{c:>12}" for c in cols) + f"{'peak':>9}{'of':>6}"]
    for p in plans:
        lines.append(
            f"  {p.stage:<18}"
            + "".join(f"{p.parts[c] / GB:>12.1f}" for c in cols)
            + f"{p.peak / GB:>9.1f}{p.gpu_bytes / GB:>6.0f}"
            + ("" if p.fits else "  does not fit")
        )
    lines.append(
        "  peak = weights + gradients + optimizer + reference + max(activations, rollouts) + 3 GB overhead "
        "(+ both, with vLLM colocated: it keeps its share)"
    )
    if assumed_prompt:
        lines.append(f"  prompts assumed {ASSUMED_PROMPT} tokens (set inputs.max_prompt_length to plan on the bound)")
    return "\n".join(lines)


def refusal(plans: list[StagePlan]) -> str | None:
    """One line for the first stage that cannot fit, naming the field to change; None if all fit."""
    for p in plans:
        if not p.fits:
            return (
                f"stage {p.stage}: needs ~{p.peak / GB:.0f} GB per GPU of {p.gpu_bytes / GB:.0f} "
                f"(memory plan; hardware.gpu_memory_gb): {p.advice()}"
            )
    return None


def shape_summary(shape: Shape) -> str:
    return (
        f"model: {shape.params / 1e9:.2f}B parameters ({shape.vision_params / 1e9:.2f}B vision), "
        f"{shape.layers} layers of {shape.hidden}, vocabulary {shape.vocab:,}"
    )


def memory_report(recipe: Recipe, start: Path, sharding: str, gpus: int) -> tuple[str, str | None]:
    """(the plan as text, the one-line refusal or None) for `recipe` from the model folder `start`."""
    from seethink.train.trl_config import trl_config

    shape = model_shape(start)
    checkpointing = {
        s.name: bool(getattr(trl_config(s, recipe, Path("plan")), "gradient_checkpointing", False))
        for s in recipe.stages
    }
    plans = plan(recipe, shape, sharding, gpus, checkpointing)
    text = shape_summary(shape) + "\n" + table(plans, sharding, gpus, not recipe.inputs.max_prompt_length)
    return text, refusal(plans)
