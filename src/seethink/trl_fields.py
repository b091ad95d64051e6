"""The TRL config fields seethink sets itself, each with the recipe setting that decides it.

A stage's `trl:` pass-through (`seethink.recipe.Stage.trl`) refuses these keys and names the setting to change instead;
`seethink.train.trl_config` is where they are set."""

import dataclasses
import re

from seethink.configs import unknown_key
from seethink.errors import SeethinkError

TRL_SET_BY_SEETHINK = {
    "output_dir": "the run folder",
    "max_steps": "steps",
    "learning_rate": "lr",
    "lr_scheduler_type": "warmup_ratio",
    "warmup_steps": "warmup_ratio",
    "warmup_ratio": "warmup_ratio",
    "weight_decay": "weight_decay",
    "max_grad_norm": "max_grad_norm",
    "per_device_train_batch_size": "micro_batch_size",
    "gradient_accumulation_steps": "batch_size / micro_batch_size",
    "seed": "seed",
    "data_seed": "seed",
    "report_to": "report_to",
    "bf16": "precision",
    "fp16": "precision",
    "use_cpu": "the machine",
    "save_strategy": "in-stage checkpoints",
    "save_steps": "in-stage checkpoints",
    "save_total_limit": "in-stage checkpoints",
    "logging_steps": "metrics.jsonl",
    "logging_nan_inf_filter": "the NaN guard",
    "remove_unused_columns": "the rewards' columns",
    "shuffle_dataset": "ordering",
    "train_sampling_strategy": "ordering",
    "num_generations": "num_generations",
    "max_completion_length": "max_completion_length",
    "temperature": "temperature",
    "beta": "beta",
    "loss_type": "loss_type",
    "epsilon": "epsilon",
    "epsilon_high": "epsilon_high",
    "steps_per_generation": "rollout_batch_size",
    "generation_batch_size": "rollout_batch_size",
    "num_iterations": "num_iterations",
    "reward_weights": "rewards",
    "use_vllm": "rollouts.engine",
    "vllm_mode": "rollouts.vllm_mode",
    "vllm_server_base_url": "rollouts.vllm_server_base_url",
    "vllm_gpu_memory_utilization": "rollouts.vllm_gpu_memory_utilization",
    "vllm_tensor_parallel_size": "rollouts.vllm_tensor_parallel_size",
    "vllm_enable_sleep_mode": "rollouts.vllm_sleep",
    "vllm_max_model_length": "rollouts.vllm_max_model_len",
}


def check_trl_fields(fields: dict, cls: type, p: str, where) -> None:
    """Every key of `stages.k.trl` is a field of `cls` (the installed TRL's config class of the stage's algorithm)
    that seethink does not set."""
    import trl

    known = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in fields:
        if key in TRL_SET_BY_SEETHINK:
            where.fail(f"{p}.{key}", f"set by seethink from {TRL_SET_BY_SEETHINK[key]}; change that instead")
        if key not in known:
            try:
                unknown_key(key, known, p, where)
            except SeethinkError as e:
                raise SeethinkError(f"{e} -- not a field of {cls.__name__} in TRL {trl.__version__}") from None


def trl_loss_types() -> tuple[str, ...]:
    """The GRPO losses the installed TRL accepts, as its `GRPOConfig.loss_type` help lists them ("Supported values
    are 'grpo', 'dr_grpo', …, and 'vespo'."): TRL's own statement, not a copy kept here. Empty if TRL stops saying."""
    import trl

    help_text = next(f.metadata.get("help", "") for f in dataclasses.fields(trl.GRPOConfig) if f.name == "loss_type")
    sentence = re.search(r"Supported values are (.*?)\.(\s|$)", help_text)
    return tuple(re.findall(r"'(\w+)'", sentence.group(1))) if sentence else ()


def check_loss_type(loss: str, p: str, where) -> None:
    """`loss` is one of the installed TRL's GRPO losses (unchecked when TRL's help lists none: TRL then decides)."""
    import trl

    choices = trl_loss_types()
    if choices and loss not in choices:
        where.fail(p, f"must be one of {', '.join(choices)} (TRL {trl.__version__}'s GRPOConfig), got {loss!r}")
