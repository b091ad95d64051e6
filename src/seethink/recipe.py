"""Recipes: YAML files that name the model, the data, the seed and an ordered list of stages.

Validated before anything runs (`seethink.configs`): an unknown key, a wrong type or an impossible value is one
error line naming the file and the field (`recipes/x.yaml: stages.1.lr: expected a number, got 'fast'`). Each
dataclass checks its own values; `check` keeps the rules across fields. `--set stages.0.steps=2` overrides any
field before validation.

A merged recipe (`merged_from: staged.yaml`) is derived from a staged one: one stage over the union of
its datasets, weighted by each stage's rollout budget, with the same total number of rollouts.
`stage_overrides: {ordering: difficulty}` changes settings of that derived stage (not its data or budget).
A recipe `based_on: staged.yaml` is that recipe under a new name, with `stage_overrides` applied to every stage.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from seethink.configs import Where, apply_overrides, build, read_yaml, require, unknown_key
from seethink.curriculum import Ordering, Schedule
from seethink.errors import SeethinkError
from seethink.trl_fields import check_trl_fields

Algorithm = Literal["grpo", "sft"]
LossType = Literal["grpo", "dapo", "dr_grpo", "bnpo"]
Precision = Literal["auto", "bf16", "fp32"]
Engine = Literal["transformers", "vllm"]
VllmMode = Literal["colocate", "server"]
Attribution = Literal["none", "auto", "facts", "caption", "judge"]
"""How wrong answers are attributed to perception or reasoning (`seethink.eval.attribution`); `none`: not at all."""
ATTRIBUTIONS: tuple[str, ...] = get_args(Attribution)
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
KEEP_METRICS: tuple[str, ...] = ("mean", "perception", "text_reasoning", "visual_reasoning")
"""What `stages.k.keep: best:<metric>` can pick on: a capability's in-stage held-out accuracy, or their mean."""


def keep_metric(keep: str) -> str | None:
    """The metric of `best:<metric>` (None for `last` or anything else)."""
    return keep[len("best:"):] if keep.startswith("best:") else None
RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"  # the shipped recipes (in a source checkout)


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
    loss_type: LossType = "dapo"
    """TRL loss aggregation: grpo | dapo | dr_grpo | bnpo (dapo = token-mean, as in the paper's EasyR1)."""
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
    trl: dict = field(default_factory=dict)
    """Any other field of the installed TRL's GRPOConfig (or SFTConfig for an SFT stage), passed through as given,
    e.g. `{top_p: 0.9, scale_rewards: batch}`. Checked against TRL's dataclass when the recipe loads; the fields
    seethink sets from the settings above (`TRL_SET_BY_SEETHINK`) are refused with the setting to use instead."""

    def __post_init__(self):
        require(is_folder_name(self.name), "name", f"must be a plain folder name (no /, .., control characters), got {self.name!r}")
        for key in ("steps", "batch_size", "num_generations", "max_completion_length", "num_iterations"):
            require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        for key in ("lr", "temperature"):
            require(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        require(self.rollout_batch_size >= 0, "rollout_batch_size", f"must be >= 0 (0 = batch_size), got {self.rollout_batch_size}")
        require(self.beta >= 0, "beta", f"must be >= 0, got {self.beta}")
        require(0 <= self.warmup_ratio < 1, "warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio}")
        require(bool(self.data), "data", "a stage needs at least one data source")
        require(self.keep == "last" or keep_metric(self.keep) in KEEP_METRICS, "keep",
                f"must be last or best:<metric> with <metric> one of {', '.join(KEEP_METRICS)}, got {self.keep!r}")


@dataclass
class EvalSettings:
    datasets: list[str] = field(default_factory=lambda: ["perception", "text_reasoning", "visual_reasoning"])
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
        require((self.attribution == "judge") == bool(self.judge), "judge",
                "attribution judge needs a judge (a URL or a model folder), and only it does")


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

    def __post_init__(self):
        require(0 < self.vllm_gpu_memory_utilization <= 1, "vllm_gpu_memory_utilization",
                f"must be in (0, 1], got {self.vllm_gpu_memory_utilization}")
        require(self.vllm_tensor_parallel_size >= 1, "vllm_tensor_parallel_size",
                f"must be >= 1, got {self.vllm_tensor_parallel_size}")


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
    """`auto` (bf16 mixed precision on a GPU that supports it, else fp32), `bf16` or `fp32`."""
    rollouts: Rollouts = field(default_factory=Rollouts)
    """How GRPO rollouts are generated (transformers or vLLM)."""
    shuffle_rewards: bool = False
    """The built-in null control: every GRPO stage's rewards are permuted at random within each prompt's group
    (`seethink.rewards.shuffled_within_groups`), so updates keep their size and lose their signal. Read any RL
    gain against this run of the same recipe (`seethink train RECIPE --null`)."""

    def __post_init__(self):
        require(is_folder_name(self.name), "name", f"must be a plain folder name (no /, .., control characters), "
                f"got {self.name!r}: a run writes only inside its output folder")



# ---------------------------------------------------------------- rules across fields

def check(recipe: Recipe, where: Where) -> None:
    if not recipe.stages:
        where.fail("stages", "a recipe needs at least one stage")
    names = [s.name for s in recipe.stages]
    if len(set(names)) != len(names):
        where.fail("stages", f"stage names must be unique, got {names}")
    for i, s in enumerate(recipe.stages):
        p = f"stages.{i}"
        if s.algorithm == "grpo":
            _check_grpo_batching(s, p, where)
        else:
            for key, default in (("rollout_batch_size", 0), ("num_iterations", 1)):
                if getattr(s, key) != default:
                    where.fail(f"{p}.{key}", f"a GRPO setting; stage {s.name!r} is {s.algorithm}")
        if s.lora.r and s.lora.include_vision and s.freeze_vision:
            where.fail(f"{p}.lora.include_vision", "contradicts freeze_vision: true")
        if s.trl:
            check_trl_fields(s.trl, s.algorithm, f"{p}.trl", where)
        if keep_metric(s.keep) and not recipe.eval.every:
            where.fail(f"{p}.keep", f"{s.keep} picks among in-stage evaluations; set eval.every (e.g. 10)")


def _check_grpo_batching(s: Stage, p: str, where: Where) -> None:
    if s.num_generations < 2:
        where.fail(f"{p}.num_generations", "GRPO needs at least 2 completions per prompt")
    if s.batch_size % s.num_generations:
        where.fail(f"{p}.batch_size", f"{s.batch_size} is not divisible by num_generations={s.num_generations}")
    if s.rollout_batch_size % s.batch_size:
        where.fail(f"{p}.rollout_batch_size", f"{s.rollout_batch_size} is not a multiple of batch_size={s.batch_size} "
                   "(a rollout round is split into whole update minibatches)")
    per_round = updates_per_round(s)
    if s.steps % per_round:
        where.fail(f"{p}.steps", f"{s.steps} is not a whole number of rollout rounds of {per_round} updates "
                   f"(rollout_batch_size / batch_size × num_iterations)")


# ---------------------------------------------------------------- budgets

def round_completions(stage: Stage) -> int:
    """Completions one GRPO rollout round samples per device (`rollout_batch_size`; 0 means `batch_size`)."""
    return stage.rollout_batch_size or stage.batch_size


def updates_per_round(stage: Stage) -> int:
    """Optimizer updates one GRPO rollout round feeds: its minibatches, each used num_iterations times."""
    return round_completions(stage) // stage.batch_size * stage.num_iterations


def rollouts(stage: Stage) -> int:
    """Completions a GRPO stage samples per device (SFT: examples it trains on)."""
    if stage.algorithm != "grpo":
        return stage.steps * stage.batch_size
    return stage.steps // stage.num_iterations * stage.batch_size


# ---------------------------------------------------------------- derived recipes and loading

def merged_stage(staged: Recipe) -> Stage:
    """One GRPO stage over the union of the staged recipe's data with the same total rollouts.

    Each source keeps its share of the staged rollout budget: weight ∝ the stage's sampled completions ×
    (source weight / total weight in that stage). The merged stage samples Σ completions in rollout rounds
    of the first stage's size and batching, with the longest completion limit of any stage. Vision stays
    trainable (the paper's merged run freezes nothing); other settings come from the first stage.
    """
    first = staged.stages[0]
    sources = []
    for s in staged.stages:
        if s.algorithm != "grpo":
            raise SeethinkError(f"cannot merge {staged.name}: stage {s.name!r} is {s.algorithm}, merging needs GRPO stages")
        total_w = sum(d.weight for d in s.data)
        sources += [DataSource(d.path, rollouts(s) * d.weight / total_w, d.split) for d in s.data]
    total = sum(rollouts(s) for s in staged.stages)
    per_round = round_completions(first)
    if total % per_round:
        raise SeethinkError(f"cannot merge {staged.name}: total rollouts {total} not divisible by the first stage's "
                            f"rollout batch {per_round}")
    return dataclasses.replace(first, name="merged", data=sources, steps=total // per_round * updates_per_round(first),
                               max_completion_length=max(s.max_completion_length for s in staged.stages),
                               freeze_vision=False, ordering="shuffle")


MERGED_FIXED = frozenset({"name", "data", "steps", "batch_size", "rollout_batch_size", "num_iterations"})


def _stage_changes(changes, where: Where, fixed: frozenset) -> dict:
    """A derived recipe's `stage_overrides`: stage fields only, and none of those that define the comparison."""
    changes = changes or {}
    if not isinstance(changes, dict):
        where.fail("stage_overrides", f"expected a mapping of stage fields, got {type(changes).__name__}")
    stage_fields = {f.name for f in dataclasses.fields(Stage)}
    for key in changes:
        if key not in stage_fields:
            unknown_key(key, stage_fields, "stage_overrides", where)
        if key in fixed:
            where.fail(f"stage_overrides.{key}", "fixed by the recipe this one derives from")
    return changes


def _derived(raw: dict, path: Path, where: Where) -> dict:
    """The raw mapping of a `merged_from` or `based_on` recipe, with its parent's stages filled in."""
    if raw.get("merged_from"):
        if "stages" in raw:
            where.fail("stages", "a merged recipe derives its stage from merged_from; change it with --set")
        staged = load_recipe((path.parent / raw["merged_from"]).resolve())
        inherited = {k: v for k, v in to_dict(staged).items()
                     if k in ("model", "data", "seed", "eval", "precision", "rollouts")}
        changes = _stage_changes(raw.pop("stage_overrides", None), where, MERGED_FIXED)
        return {**inherited, **raw, "stages": [{**dataclasses.asdict(merged_stage(staged)), **changes}]}
    if raw.get("based_on"):
        if "stages" in raw:
            where.fail("stages", "a recipe based_on another takes its stages from it; change them with stage_overrides")
        base = to_dict(load_recipe((path.parent / raw["based_on"]).resolve()))
        changes = _stage_changes(raw.pop("stage_overrides", None), where, frozenset({"name", "data"}))
        return {**{k: v for k, v in base.items() if k not in ("name", "merged_from")}, **raw,
                "stages": [{**st, **changes} for st in base["stages"]]}
    if "stage_overrides" in raw:
        where.fail("stage_overrides", "only a derived recipe (merged_from or based_on) has stages to change")
    return raw


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    path = Path(path)
    where = Where(str(path))
    raw = _derived(read_yaml(path, "recipe"), path, where)
    recipe = build(Recipe, apply_overrides(raw, list(overrides)), "", where)
    check(recipe, where)
    return recipe


def null_control(recipe: Recipe) -> Recipe:
    """The same recipe with rewards shuffled within each group (see `Recipe.shuffle_rewards`), as NAME-null."""
    if recipe.shuffle_rewards:
        return recipe
    return dataclasses.replace(recipe, name=f"{recipe.name}-null", shuffle_rewards=True)


def to_dict(recipe: Recipe) -> dict:
    return dataclasses.asdict(recipe)
