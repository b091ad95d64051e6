"""A recipe's stages: their data, algorithm, budget, optimiser and GRPO settings (one docstring per field)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from seethink.algorithms import NAMES
from seethink.configs import require
from seethink.curriculum import Ordering, Schedule
from seethink.records.schema import CAPABILITIES
from seethink.rewards import DEFAULT_REWARD

Algorithm = Literal[NAMES]  # seethink.algorithms: one module each
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
KEEP_METRICS: tuple[str, ...] = ("mean", *CAPABILITIES)
"""What `stages.k.keep: best:<metric>` can pick on: a capability's in-stage held-out accuracy, or their mean."""


def keep_metric(keep: str) -> str | None:
    """The metric of `best:<metric>` (None for `last` or anything else)."""
    return keep[len("best:") :] if keep.startswith("best:") else None


def is_folder_name(name: str) -> bool:
    """One path component that stays where it is put: not empty, no separator, not . or .., printable."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and name.isprintable()


@dataclass
class DataSource:
    path: str
    """A dataset folder with <split>.jsonl/.parquet, relative to the recipe's `data` root (or absolute)."""
    weight: float = 1.0
    """Relative sampling weight when a stage mixes several sources."""
    split: str = "train"
    """Which split to train on."""

    def __post_init__(self):
        require(self.weight > 0, "weight", f"must be > 0, got {self.weight}")


@dataclass
class Lora:
    r: int = 0
    """LoRA rank; 0 (default) trains the full weights, as the paper does."""
    alpha: float = 16.0
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    dropout: float = 0.0
    """Dropout on the LoRA input."""
    target_modules: str = "all-linear"
    """`all-linear` (every linear layer of the language model but the output head) or comma-separated module
    names (a name matches a module whose dotted path ends with it)."""
    include_vision: bool = False
    """Also adapt the vision tower's linear layers (off by default: perception data trains it in full or not at all)."""

    def __post_init__(self):
        require(self.r >= 0, "r", f"must be >= 0, got {self.r}")
        require(not self.r or self.alpha > 0, "alpha", f"must be > 0, got {self.alpha}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class Stage:
    name: str
    """Short name; the stage's folder is `stages/<k>-<name>/`."""
    data: list[DataSource]
    """What this stage trains on."""
    algorithm: Algorithm = "grpo"
    """`grpo` (RLVR through TRL's GRPOTrainer) or `sft` (TRL's SFTTrainer on the records' solutions)."""
    steps: int = 100
    """Optimizer steps (updates). For GRPO a whole number of rollout rounds: a multiple of
    (rollout_batch_size / batch_size) × num_iterations."""
    lr: float = 1e-5
    """Learning rate (constant schedule unless `warmup_ratio` > 0)."""
    batch_size: int = 32
    """Per device (process): GRPO completions per step (prompts × num_generations), SFT examples per step.
    With N processes a step consumes N times as many."""
    micro_batch_size: int = 0
    """Per device: sequences in one forward/backward pass (0 = batch_size). An update accumulates the gradients
    of batch_size / micro_batch_size passes, so the update (and the paper's batch arithmetic) is unchanged while
    activation memory scales with the micro-batch (TRL's per_device_train_batch_size; the old-policy and reference
    log-probabilities are computed in micro-batches too). `seethink train RECIPE --dry-run` shows what fits."""
    num_generations: int = 8
    """GRPO group size: completions sampled per prompt. Must divide batch_size."""
    rollout_batch_size: int = 0
    """GRPO: completions sampled per device in one rollout round (prompts × num_generations), a multiple of
    `batch_size`; 0 = batch_size. A round feeds rollout_batch_size / batch_size optimizer updates, one per
    minibatch of `batch_size` (TRL's steps_per_generation). The paper (EasyR1) rolls out 512 prompts per round and
    updates on minibatches of 128: 4 updates per round."""
    num_iterations: int = 1
    """GRPO: passes over each rollout round's minibatches (the GRPO paper's μ, TRL's num_iterations).

    When `epsilon` acts: the clipped ratio is π/π_old, where π_old is the policy that sampled the round. The first
    update of a round runs on the sampling policy itself, so its ratio is exactly 1 and the clip does nothing. Only
    the later updates of a round (rollout_batch_size > batch_size, or num_iterations > 1) see a moved policy, and
    only there do epsilon / epsilon_high bound the step. With one update per round (the default) GRPO is plain
    on-policy REINFORCE with group-normalised advantages."""
    beta: float = 0.0
    """KL coefficient against the stage's starting model (0 disables the reference model)."""
    loss_type: str = "dapo"
    """TRL's GRPO loss: any value the installed TRL's `GRPOConfig.loss_type` lists (TRL 1.16: grpo, dr_grpo, dapo,
    bnpo, cispo, sapo, luspo, vespo), checked at recipe load against TRL itself. dapo = token-mean, as in the
    paper's EasyR1."""
    epsilon: float = 0.2
    """Lower clip range of the policy ratio."""
    epsilon_high: float = 0.3
    """Upper clip range (the paper: 0.3)."""
    temperature: float = 1.0
    """Rollout sampling temperature."""
    max_completion_length: int = 64
    """Longest completion in tokens."""
    freeze_vision: bool = False
    """Freeze the vision tower (and projector) for this stage."""
    ordering: Ordering = "shuffle"
    """`shuffle`, `as_is` (file order) or `difficulty` (easy→hard by pass_rate; see `seethink.curriculum`)."""
    difficulty_schedule: Schedule = "once"
    """With ordering `difficulty`: `once` (one easy→hard pass over the whole stage) or `per_epoch`."""
    drop_solved: bool = False
    """Leave out records with pass_rate 1 (every sample right: no learning signal)."""
    drop_unsolved: bool = False
    """Leave out records with pass_rate 0."""
    filter_groups: int = 0
    """GRPO: online group filtering (DAPO's dynamic sampling), up to this many extra rollout draws per round;
    0 = off. Groups whose rewards are all equal are replaced by signal-carrying groups of the extra draws before
    the update; the batch keeps its size (see `seethink.algorithms.group_filter`)."""
    warmup_ratio: float = 0.0
    """Fraction of steps of linear warmup from 0 to `lr` (then constant)."""
    weight_decay: float = 0.01
    """AdamW weight decay (the paper: 0.01)."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (the paper: 1.0)."""
    keep: str = "last"
    """The weights the stage hands on: `last` step's, or `best:<metric>` (a capability or `mean`): the in-stage
    evaluation (`eval.every`) that scored highest; recorded in seethink_stage.json and recipe.yaml (`kept`)."""
    lora: Lora = field(default_factory=Lora)
    """Train LoRA adapters (through peft) instead of the full weights; merged into the checkpoint at the stage's end,
    so the next stage starts from a plain HF model."""
    rewards: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REWARD))
    """GRPO: the reward functions and their weights, summed by TRL into the reward advantages come from. A name is
    seethink's (`accuracy`, `format`), `path/file.py:function` (relative to the recipe's folder; EasyR1's
    convention) or `module:function`; see `seethink.reward_specs` for the signature. Default: the paper's."""
    trl: dict = field(default_factory=dict)
    """Any other field of the installed TRL's GRPOConfig (or SFTConfig for an SFT stage), passed through as given,
    e.g. `{top_p: 0.9, scale_rewards: batch}`. Checked against TRL's dataclass when the recipe loads; the fields
    seethink sets from the settings above (`TRL_SET_BY_SEETHINK`) are refused with the setting to use instead."""

    def __post_init__(self):
        require(
            is_folder_name(self.name),
            "name",
            f"must be a plain folder name (no /, .., control characters), got {self.name!r}",
        )
        for key in ("steps", "batch_size", "num_generations", "max_completion_length", "num_iterations"):
            require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        for key in ("lr", "temperature"):
            require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        require(
            self.micro_batch_size >= 0,
            "micro_batch_size",
            f"must be >= 0 (0 = batch_size), got {self.micro_batch_size}",
        )
        require(
            self.rollout_batch_size >= 0,
            "rollout_batch_size",
            f"must be >= 0 (0 = batch_size), got {self.rollout_batch_size}",
        )
        require(self.filter_groups >= 0, "filter_groups", f"must be >= 0 (0 = off), got {self.filter_groups}")
        require(self.beta >= 0, "beta", f"must be >= 0, got {self.beta}")
        require(0 <= self.warmup_ratio < 1, "warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio}")
        require(bool(self.data), "data", "a stage needs at least one data source")
        require(
            self.keep == "last" or keep_metric(self.keep) in KEEP_METRICS,
            "keep",
            f"must be last or best:<metric> with <metric> one of {', '.join(KEEP_METRICS)}, got {self.keep!r}",
        )
