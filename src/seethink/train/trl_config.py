"""A stage's TRL config: seethink's recipe settings mapped onto GRPOConfig or SFTConfig, then the stage's `trl`
pass-through (any other field of those classes; the recipe refuses the ones seethink sets itself)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from seethink.algorithms import algorithm
from seethink.errors import SeethinkError
from seethink.models.load import attn_implementation, inference_dtype
from seethink.recipe import Recipe, Rollouts, Stage, accumulation_steps, micro_batch, updates_per_round

# TRL 1.16 still uses transformers 5.23's `gradient_checkpointing*` names, deprecated for `activation_checkpointing*`:
# a FutureWarning on every config and rollout that nobody running a recipe can act on
UPSTREAM_DEPRECATION = r"`(is_)?gradient_checkpointing\w*` is deprecated"


def use_bf16(precision: str) -> bool:
    """`auto`: bf16 mixed precision where the GPU supports it (the paper trains in bf16), fp32 on CPU."""
    if precision == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return precision == "bf16"


def _common(stage: Stage, recipe: Recipe, work: Path) -> dict:
    # transformers 5 reads a warmup_steps value below 1 as a ratio of the total steps. In-stage checkpoints fall
    # on the end of a GRPO rollout round: a resumed stage samples a new round rather than reuse half of one
    per_round = updates_per_round(stage)
    return dict(
        output_dir=str(work),
        max_steps=stage.steps,
        learning_rate=stage.lr,
        lr_scheduler_type="constant_with_warmup" if stage.warmup_ratio else "constant",
        warmup_steps=stage.warmup_ratio,
        weight_decay=stage.weight_decay,
        max_grad_norm=stage.max_grad_norm,
        # an update = batch_size sequences per device, in micro-batches whose gradients accumulate
        per_device_train_batch_size=micro_batch(stage),
        gradient_accumulation_steps=accumulation_steps(stage),
        logging_steps=1,
        save_strategy="steps",
        save_steps=max(1, stage.steps // 4 // per_round) * per_round,
        save_total_limit=1,
        report_to=recipe.report_to,
        seed=recipe.seed,
        data_seed=recipe.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=use_bf16(recipe.precision),
        dataloader_num_workers=0,
        disable_tqdm=False,
        logging_nan_inf_filter=False,  # NonFiniteGuard must see a NaN loss
        # the stage's own order (seethink.train.data): TRL's shuffle off, and the Trainer's sampler sequential
        # (GRPO's own sampler follows shuffle_dataset; an SFT stage would otherwise draw rows at random)
        shuffle_dataset=False,
        train_sampling_strategy="sequential",
        remove_unused_columns=False,
    )  # the rewards' columns


def vllm_args(rollouts: Rollouts | None, stage: Stage, max_prompt_length: int = 0) -> dict:
    """GRPOConfig settings for TRL's vLLM rollouts (none for generate() inside the trainer). Colocated, vLLM's
    KV cache is planned for the stage's longest sequence (prompt bound + completion limit), not the model's whole
    context, and it sleeps while the policy trains. In server mode the server was started with its own limits
    (`trl vllm-serve --max-model-len …`)."""
    if rollouts is None or rollouts.engine != "vllm":
        return {}
    args = dict(use_vllm=True, vllm_mode=rollouts.vllm_mode, vllm_server_base_url=rollouts.vllm_server_base_url or None)
    if rollouts.vllm_mode == "colocate":
        args.update(
            vllm_gpu_memory_utilization=rollouts.vllm_gpu_memory_utilization,
            vllm_tensor_parallel_size=rollouts.vllm_tensor_parallel_size,
            vllm_enable_sleep_mode=rollouts.vllm_sleep,
            vllm_max_model_length=rollouts.vllm_max_model_len
            or (max_prompt_length + stage.max_completion_length if max_prompt_length else None),
        )
    return args


def reference_args(stage: Stage, recipe: Recipe) -> dict:
    """The KL reference model's dtype and attention: TRL builds it like the policy (fp32) unless told; on a GPU it
    is loaded in the generation dtype (bf16) -- it only runs forward passes. Nothing on CPU (fp32, unchanged)."""
    dtype, attn = inference_dtype(recipe.precision), attn_implementation(recipe.attn_implementation)
    if stage.beta == 0 or (dtype == torch.float32 and attn is None):
        return {}
    return dict(model_init_kwargs={"dtype": dtype, **({"attn_implementation": attn} if attn else {})})


def trl_args(stage: Stage, recipe: Recipe, work: Path) -> dict:
    """The fields of the stage's TRL config: seethink's settings, then the algorithm's own (the reference-model and
    rollout-engine settings go to it, used if it samples), then the stage's `trl` pass-through."""
    args = _common(stage, recipe, work)
    engine = {**reference_args(stage, recipe), **vllm_args(recipe.rollouts, stage, recipe.inputs.max_prompt_length)}
    args.update(algorithm(stage).trl_args(stage, engine))
    args.update(stage.trl)
    return args


def config_from(stage: Stage, args: dict):
    """The config of the stage's algorithm (GRPOConfig, SFTConfig) from `trl_args`; a value TRL refuses is one
    line naming the stage."""
    cls = algorithm(stage).config_class()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=UPSTREAM_DEPRECATION, category=FutureWarning)
            return cls(**args)
    except (TypeError, ValueError) as e:
        raise SeethinkError(
            f"stage {stage.name}: {cls.__name__} refuses these settings: {str(e).splitlines()[0]}"
        ) from None


def trl_config(stage: Stage, recipe: Recipe, work: Path):
    return config_from(stage, trl_args(stage, recipe, work))
