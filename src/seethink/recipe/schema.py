"""The recipe: model, data, seed, an ordered list of stages and the settings around them."""

from __future__ import annotations

from dataclasses import dataclass, field

from seethink.configs import require
from seethink.recipe.settings import Attention, EvalSettings, Hardware, Inputs, Precision, Rollouts
from seethink.recipe.stage import Stage, is_folder_name


@dataclass
class Recipe:
    name: str
    """Run name; outputs go to `<output_dir>/<name>/`."""
    stages: list[Stage] = field(default_factory=list)
    """Ordered stages; stage k starts from stage k-1's checkpoint."""
    model: str = "base"
    """A local HF model folder, or `base` for the shipped tiny base."""
    data: str = "world"
    """Root folder for relative data paths, or `world` for the built-in world (built on first use)."""
    seed: int = 0
    """Seed for data order, sampling and the built-in world."""
    output_dir: str = "runs"
    """Where run folders are written."""
    eval: EvalSettings = field(default_factory=EvalSettings)
    merged_from: str = ""
    """If set, this recipe is derived from that staged recipe (relative to this file): one merged stage."""
    based_on: str = ""
    """If set, this recipe takes everything but its name from that recipe; `stage_overrides` changes every stage."""
    report_to: str = "none"
    """Passed to TRL (`tensorboard`, `wandb`, …)."""
    precision: Precision = "auto"
    """`auto` (bf16 mixed precision on a GPU that supports it, else fp32), `bf16` or `fp32`. Training keeps fp32
    master weights either way; generation (evaluations, the KL reference) loads weights in bf16 unless `fp32`."""
    attn_implementation: Attention = "auto"
    """`auto` (flash_attention_2 on CUDA where flash-attn is installed, else sdpa; on CPU the model's default),
    `sdpa`, `flash_attention_2` or `eager`: for the policy, the reference and every evaluation."""
    rollouts: Rollouts = field(default_factory=Rollouts)
    """How GRPO rollouts are generated (transformers or vLLM)."""
    inputs: Inputs = field(default_factory=Inputs)
    """Pixel bounds for images and a prompt-length bound for training rows."""
    hardware: Hardware = field(default_factory=Hardware)
    """The GPUs the recipe is planned for (the memory plan of `--dry-run`) and the process-group timeout."""
    shuffle_rewards: bool = False
    """The built-in null control: every GRPO stage's rewards are permuted at random within each prompt's group
    (`seethink.rewards.shuffled_within_groups`), so updates keep their size and lose their signal. Read any RL
    gain against this run of the same recipe (`seethink train RECIPE --null`)."""

    def __post_init__(self):
        require(0 <= self.seed < 2**32, "seed", f"must be in [0, 2**32) (torch and numpy seeds), got {self.seed}")
        require(
            is_folder_name(self.name),
            "name",
            f"must be a plain folder name (no /, .., control characters), "
            f"got {self.name!r}: a run writes only inside its output folder",
        )
