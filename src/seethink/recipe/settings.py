"""A recipe's settings beside its stages: evaluation, rollouts, input bounds and the hardware it is planned for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from seethink.configs import require
from seethink.records.schema import CAPABILITIES

Precision = Literal["auto", "bf16", "fp32"]
Attention = Literal["auto", "sdpa", "flash_attention_2", "eager"]
Engine = Literal["transformers", "vllm"]
VllmMode = Literal["colocate", "server"]
Attribution = Literal["none", "auto", "facts", "caption", "judge"]
"""How wrong answers are attributed to perception or reasoning (`seethink.eval.attribution`); `none`: not at all."""
ATTRIBUTIONS: tuple[str, ...] = get_args(Attribution)
Sharding = Literal["none", "zero2", "zero3", "fsdp"]
"""How model states are split over the GPUs: `none` (one GPU, or DDP: every GPU holds everything), DeepSpeed
`zero2` (optimizer state and gradients sharded), `zero3` (parameters too) or `fsdp` (PyTorch FSDP2, full sharding)."""
SHARDINGS: tuple[str, ...] = get_args(Sharding)


@dataclass
class EvalSettings:
    datasets: list[str] = field(default_factory=lambda: list(CAPABILITIES))
    """Dataset folders (relative to `data`) evaluated after each stage."""
    split: str = "validation"
    """Held-out split evaluated after each stage (the test split is for final reports)."""
    limit: int = 0
    """At most this many records per dataset (0 = all)."""
    max_new_tokens: int = 96
    """Longest greedy answer generated during evaluation."""
    batch_size: int = 64
    """Prompts per generate call during evaluation."""
    every: int = 0
    """> 0: also evaluate inside each stage at its start, every this many steps and at its end (train.validation):
    `val_<capability>` and `val_mean` in metrics.jsonl and TensorBoard, for `stages.k.keep: best:<metric>`."""
    every_limit: int = 200
    """Records per dataset in each in-stage evaluation (0: all)."""
    every_split: str = ""
    """The split in-stage evaluations use ("": `split`)."""
    attribution: Attribution = "auto"
    """Attribute wrong answers to perception or reasoning: auto | facts | caption | none, or judge (with `judge`)."""
    judge: str = ""
    """For attribution `judge`: an OpenAI-compatible base URL (`judge_model` names the model it serves; the key is
    read from OPENAI_API_KEY) or a local HF model folder."""
    judge_model: str = ""
    """The model served at the `judge` URL."""

    def __post_init__(self):
        require(self.limit >= 0, "limit", f"must be >= 0, got {self.limit}")
        require(self.every >= 0, "every", f"must be >= 0 (0 = off), got {self.every}")
        require(self.every_limit >= 0, "every_limit", f"must be >= 0 (0 = all), got {self.every_limit}")
        require(
            (self.attribution == "judge") == bool(self.judge),
            "judge",
            "attribution judge needs a judge (a URL or a model folder), and only it does",
        )


@dataclass
class Rollouts:
    engine: Engine = "transformers"
    """How GRPO stages generate: `transformers` (generate() inside the trainer: CPU, small runs) or `vllm` (TRL's
    vLLM integration; GPUs, needs `pip install vllm`)."""
    vllm_mode: VllmMode = "colocate"
    """`colocate` (vLLM shares the training GPUs) or `server` (a separate `trl vllm-serve --model …` process)."""
    vllm_server_base_url: str = ""
    """Server mode: the base URL of `trl vllm-serve` (default: http://0.0.0.0:8000)."""
    vllm_gpu_memory_utilization: float = 0.3
    """Colocate mode: the GPU memory share vLLM may take."""
    vllm_tensor_parallel_size: int = 1
    """Colocate mode: tensor-parallel size of vLLM."""
    vllm_sleep: bool = True
    """Colocate mode: vLLM frees its weights and KV cache while the policy trains (level-2 sleep), and wakes up for
    the next rollout round; the training step gets the memory back."""
    vllm_max_model_len: int = 0
    """Longest sequence vLLM plans its KV cache for (0: inputs.max_prompt_length + the stage's
    max_completion_length; vLLM would otherwise take the model's whole context, e.g. 128k tokens)."""

    def __post_init__(self):
        require(
            self.vllm_max_model_len >= 0,
            "vllm_max_model_len",
            f"must be >= 0 (0 = derived), got {self.vllm_max_model_len}",
        )
        require(
            0 < self.vllm_gpu_memory_utilization <= 1,
            "vllm_gpu_memory_utilization",
            f"must be in (0, 1], got {self.vllm_gpu_memory_utilization}",
        )
        require(
            self.vllm_tensor_parallel_size >= 1,
            "vllm_tensor_parallel_size",
            f"must be >= 1, got {self.vllm_tensor_parallel_size}",
        )


@dataclass
class Inputs:
    """Bounds on what one prompt may cost, applied to every stage's rows and to every evaluation of the recipe."""

    min_pixels: int = 0
    """Images with fewer pixels are upscaled to at least this many, aspect ratio kept (0: no lower bound; the
    paper: 262,144 = 512²)."""
    max_pixels: int = 0
    """Images with more pixels are downscaled to at most this many, aspect ratio kept (0: no bound; the paper:
    4,194,304 = 2048²). Bounds the image tokens one record adds to a batch (Qwen2.5-VL: one per 28 × 28 pixels)."""
    max_prompt_length: int = 0
    """Training rows whose prompt is longer, in tokens as the model's processor counts them (text and image tokens),
    are dropped before the stage is laid out, and the count is printed (0: no bound; the paper: 2048)."""

    def __post_init__(self):
        for key in ("min_pixels", "max_pixels", "max_prompt_length"):
            require(getattr(self, key) >= 0, key, f"must be >= 0 (0 = no bound), got {getattr(self, key)}")
        require(
            not (self.min_pixels and self.max_pixels) or self.min_pixels <= self.max_pixels,
            "min_pixels",
            f"{self.min_pixels} is above max_pixels={self.max_pixels}",
        )


@dataclass
class Hardware:
    """What the recipe is planned for: `seethink train RECIPE --dry-run` prints each stage's memory per GPU against
    it and refuses a stage that cannot fit. Under `accelerate launch`/`torchrun` the launch itself (its process
    count, DeepSpeed ZeRO stage or FSDP) replaces `gpus` and `sharding`."""

    gpus: int = 1
    """GPUs (training processes) in the run."""
    gpu_memory_gb: float = 80.0
    """Memory of one GPU in GB (10⁹ bytes)."""
    sharding: Sharding = "none"
    """none | zero2 | zero3 | fsdp: how model states are split (`configs/accelerate/*.yaml` sets it for a launch)."""
    check_memory: bool = True
    """On GPUs, refuse a stage the memory plan says cannot fit (false: print the plan and run anyway)."""
    process_timeout_minutes: int = 60
    """How long a process waits at a collective (a barrier, a gather) before the run fails: the process group's
    timeout (torch's NCCL default is 10 minutes; DeepSpeed's 30)."""

    def __post_init__(self):
        require(self.gpus >= 1, "gpus", f"must be >= 1, got {self.gpus}")
        require(self.gpu_memory_gb > 0, "gpu_memory_gb", f"must be > 0, got {self.gpu_memory_gb}")
        require(
            self.process_timeout_minutes >= 1,
            "process_timeout_minutes",
            f"must be >= 1, got {self.process_timeout_minutes}",
        )
