"""Recipes: YAML files that name the model, the data, the seed and an ordered list of stages.

Validated before anything runs: an unknown key, a wrong type or an impossible value is one error line
naming the file and the field (`recipes/x.yaml: stages.1.lr: expected a number, got 'fast'`).
`--set stages.0.steps=2` overrides any field before validation.

A merged recipe (`merged_from: staged.yaml`) is derived from a staged one: one stage over the union of
its datasets, weighted by each stage's rollout budget, with the same total number of rollouts.
`stage_overrides: {ordering: difficulty}` changes settings of that derived stage (not its data or budget).
A recipe `based_on: staged.yaml` is that recipe under a new name, with `stage_overrides` applied to every stage.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seethink.curriculum import ORDERINGS, SCHEDULES
from seethink.errors import SeethinkError


@dataclass
class DataSource:
    path: str
    """A dataset folder with <split>.jsonl/.parquet, relative to the recipe's `data` root (or absolute)."""
    weight: float = 1.0
    """Relative sampling weight when a stage mixes several sources."""
    split: str = "train"
    """Which split to train on."""


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


@dataclass
class Stage:
    name: str
    """Short name; the stage's folder is `stages/<k>-<name>/`."""
    data: list[DataSource]
    """What this stage trains on."""
    algorithm: str = "grpo"
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
    loss_type: str = "dapo"
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
    ordering: str = "shuffle"
    """`shuffle`, `as_is` (file order) or `difficulty` (easy→hard by pass_rate; see `seethink.curriculum`)."""
    difficulty_schedule: str = "once"
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
    lora: Lora = field(default_factory=Lora)
    """Train LoRA adapters (through peft) instead of the full weights; merged into the checkpoint at the stage's end,
    so the next stage starts from a plain HF model."""


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
    attribution: str = "auto"
    """Attribute wrong answers to perception or reasoning: auto | facts | caption | none."""


@dataclass
class Rollouts:
    engine: str = "transformers"
    """How GRPO stages generate: `transformers` (generate() inside the trainer: CPU, small runs) or `vllm` (TRL's
    vLLM integration; GPUs, needs `pip install vllm`)."""
    vllm_mode: str = "colocate"
    """`colocate` (vLLM shares the training GPUs) or `server` (a separate `trl vllm-serve --model …` process)."""
    vllm_server_base_url: str = ""
    """Server mode: the base URL of `trl vllm-serve` (default: http://0.0.0.0:8000)."""
    vllm_gpu_memory_utilization: float = 0.3
    """Colocate mode: the GPU memory share vLLM may take."""
    vllm_tensor_parallel_size: int = 1
    """Colocate mode: tensor-parallel size of vLLM."""


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
    precision: str = "auto"
    """`auto` (bf16 mixed precision on a GPU that supports it, else fp32), `bf16` or `fp32`."""
    rollouts: Rollouts = field(default_factory=Rollouts)
    """How GRPO rollouts are generated (transformers or vLLM)."""
    shuffle_rewards: bool = False
    """The built-in null control: every GRPO stage's rewards are permuted at random within each prompt's group
    (`seethink.rewards.shuffled_within_groups`), so updates keep their size and lose their signal. Read any RL
    gain against this run of the same recipe (`seethink train RECIPE --null`)."""


ALGORITHMS = ("grpo", "sft")
LOSS_TYPES = ("grpo", "dapo", "dr_grpo", "bnpo")
PRECISIONS = ("auto", "bf16", "fp32")
ENGINES = ("transformers", "vllm")
VLLM_MODES = ("colocate", "server")
ATTRIBUTIONS = ("auto", "facts", "caption", "none")
RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"  # the shipped recipes (in a source checkout)


# ---------------------------------------------------------------- parsing

class _Where:
    def __init__(self, file: str):
        self.file = file

    def fail(self, path: str, msg: str):
        raise SeethinkError(f"{self.file}: {path}: {msg}" if path else f"{self.file}: {msg}")


def _convert(value, typ, path: str, where: _Where):
    origin = typing.get_origin(typ)
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, dict):
            where.fail(path, f"expected a mapping, got {type(value).__name__}")
        return _build(typ, value, path, where)
    if origin is list:
        if not isinstance(value, list):
            where.fail(path, f"expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(typ)
        return [_convert(v, item, f"{path}.{i}", where) for i, v in enumerate(value)]
    if typ is bool:
        if not isinstance(value, bool):
            where.fail(path, f"expected true or false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            where.fail(path, f"expected a whole number, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, str):  # YAML 1.1 reads `1e-6` (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                where.fail(path, f"expected a number, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            where.fail(path, f"expected a finite number, got {value!r}")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            where.fail(path, f"expected a string, got {value!r}")
        return value
    raise TypeError(typ)  # pragma: no cover - the schema uses only the types above


def _build(cls, raw: dict, path: str, where: _Where):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        sub = f"{path}.{key}" if path else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            where.fail(sub, "unknown key" + (f" (did you mean '{close[0]}'?)" if close else ""))
        kwargs[key] = _convert(value, hints[key], sub, where)
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            where.fail(f"{path}.{name}" if path else name, "required key missing")
    return cls(**kwargs)


def _one_of(where: _Where, path: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        where.fail(path, f"must be one of {', '.join(allowed)}, got {value!r}")


def _check(recipe: Recipe, where: _Where) -> None:
    if not recipe.stages:
        where.fail("stages", "a recipe needs at least one stage")
    names = [s.name for s in recipe.stages]
    if len(set(names)) != len(names):
        where.fail("stages", f"stage names must be unique, got {names}")
    for i, s in enumerate(recipe.stages):
        p = f"stages.{i}"
        for key, allowed in (("algorithm", ALGORITHMS), ("ordering", ORDERINGS), ("difficulty_schedule", SCHEDULES),
                             ("loss_type", LOSS_TYPES)):
            _one_of(where, f"{p}.{key}", getattr(s, key), allowed)
        for key in ("steps", "batch_size", "num_generations", "max_completion_length"):
            if getattr(s, key) <= 0:
                where.fail(f"{p}.{key}", f"must be > 0, got {getattr(s, key)}")
        for key in ("lr", "temperature"):
            if not getattr(s, key) > 0:
                where.fail(f"{p}.{key}", f"must be > 0, got {getattr(s, key)}")
        if s.beta < 0:
            where.fail(f"{p}.beta", f"must be >= 0, got {s.beta}")
        if not 0 <= s.warmup_ratio < 1:
            where.fail(f"{p}.warmup_ratio", f"must be in [0, 1), got {s.warmup_ratio}")
        if s.algorithm == "grpo":
            _check_grpo_batching(s, p, where)
        else:
            for key, default in (("rollout_batch_size", 0), ("num_iterations", 1)):
                if getattr(s, key) != default:
                    where.fail(f"{p}.{key}", f"a GRPO setting; stage {s.name!r} is {s.algorithm}")
        if not s.data:
            where.fail(f"{p}.data", "a stage needs at least one data source")
        if s.lora.r < 0:
            where.fail(f"{p}.lora.r", f"must be >= 0, got {s.lora.r}")
        if s.lora.r and not s.lora.alpha > 0:
            where.fail(f"{p}.lora.alpha", f"must be > 0, got {s.lora.alpha}")
        if not 0 <= s.lora.dropout < 1:
            where.fail(f"{p}.lora.dropout", f"must be in [0, 1), got {s.lora.dropout}")
        if s.lora.r and s.lora.include_vision and s.freeze_vision:
            where.fail(f"{p}.lora.include_vision", "contradicts freeze_vision: true")
        for j, d in enumerate(s.data):
            if not d.weight > 0:
                where.fail(f"{p}.data.{j}.weight", f"must be > 0, got {d.weight}")
    _one_of(where, "eval.attribution", recipe.eval.attribution, ATTRIBUTIONS)
    _one_of(where, "precision", recipe.precision, PRECISIONS)
    _one_of(where, "rollouts.engine", recipe.rollouts.engine, ENGINES)
    _one_of(where, "rollouts.vllm_mode", recipe.rollouts.vllm_mode, VLLM_MODES)
    if not 0 < recipe.rollouts.vllm_gpu_memory_utilization <= 1:
        where.fail("rollouts.vllm_gpu_memory_utilization", f"must be in (0, 1], got {recipe.rollouts.vllm_gpu_memory_utilization}")
    if recipe.rollouts.vllm_tensor_parallel_size < 1:
        where.fail("rollouts.vllm_tensor_parallel_size", f"must be >= 1, got {recipe.rollouts.vllm_tensor_parallel_size}")
    if recipe.eval.limit < 0:
        where.fail("eval.limit", f"must be >= 0, got {recipe.eval.limit}")


def _check_grpo_batching(s: Stage, p: str, where: _Where) -> None:
    if s.num_generations < 2:
        where.fail(f"{p}.num_generations", "GRPO needs at least 2 completions per prompt")
    if s.batch_size % s.num_generations:
        where.fail(f"{p}.batch_size", f"{s.batch_size} is not divisible by num_generations={s.num_generations}")
    if s.rollout_batch_size < 0:
        where.fail(f"{p}.rollout_batch_size", f"must be >= 0 (0 = batch_size), got {s.rollout_batch_size}")
    if s.rollout_batch_size % s.batch_size:
        where.fail(f"{p}.rollout_batch_size", f"{s.rollout_batch_size} is not a multiple of batch_size={s.batch_size} "
                   "(a rollout round is split into whole update minibatches)")
    if s.num_iterations < 1:
        where.fail(f"{p}.num_iterations", f"must be >= 1, got {s.num_iterations}")
    per_round = updates_per_round(s)
    if s.steps % per_round:
        where.fail(f"{p}.steps", f"{s.steps} is not a whole number of rollout rounds of {per_round} updates "
                   f"(rollout_batch_size / batch_size × num_iterations)")


def updates_per_round(stage: Stage) -> int:
    """Optimizer updates one GRPO rollout round feeds: its minibatches, each used num_iterations times."""
    return (stage.rollout_batch_size or stage.batch_size) // stage.batch_size * stage.num_iterations


def rollouts(stage: Stage) -> int:
    """Completions a GRPO stage samples per device (SFT: examples it trains on)."""
    if stage.algorithm != "grpo":
        return stage.steps * stage.batch_size
    return stage.steps // stage.num_iterations * stage.batch_size


def apply_overrides(raw: dict, overrides: list[str], file: str) -> dict:
    """`a.b.0.c=value` → raw["a"]["b"][0]["c"] = yaml(value). Creates mapping keys, never list items."""
    for item in overrides:
        if "=" not in item:
            raise SeethinkError(f"--set {item!r}: expected key.path=value")
        key, value = item.split("=", 1)
        parts = key.split(".")
        node = raw
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise SeethinkError(f"--set {key}: {'.'.join(parts[:i + 1])} is not an item of a {len(node)}-item list")
                part = int(part)
            elif not isinstance(node, dict):
                raise SeethinkError(f"--set {key}: {'.'.join(parts[:i])} is not a mapping")
            if last:
                node[part] = yaml.safe_load(value)
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = {}
                node = node[part]
    return raw


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise SeethinkError(f"recipe {path} {'is a folder, not a YAML file' if path.is_dir() else 'does not exist'}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SeethinkError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise SeethinkError(f"{path}: a recipe must be a YAML mapping")
    return raw


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
    per_round = first.rollout_batch_size or first.batch_size
    if total % per_round:
        raise SeethinkError(f"cannot merge {staged.name}: total rollouts {total} not divisible by the first stage's "
                            f"rollout batch {per_round}")
    return dataclasses.replace(first, name="merged", data=sources, steps=total // per_round * updates_per_round(first),
                               max_completion_length=max(s.max_completion_length for s in staged.stages),
                               freeze_vision=False, ordering="shuffle")


def _stage_changes(changes, where: _Where, fixed: frozenset) -> dict:
    """A derived recipe's `stage_overrides`: stage fields only, and none of those that define the comparison."""
    changes = changes or {}
    if not isinstance(changes, dict):
        where.fail("stage_overrides", f"expected a mapping of stage fields, got {type(changes).__name__}")
    stage_fields = {f.name for f in dataclasses.fields(Stage)}
    for key in changes:
        if key not in stage_fields:
            close = difflib.get_close_matches(str(key), stage_fields, n=1)
            where.fail(f"stage_overrides.{key}", "unknown key" + (f" (did you mean '{close[0]}'?)" if close else ""))
        if key in fixed:
            where.fail(f"stage_overrides.{key}", "fixed by the recipe this one derives from")
    return changes


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    path = Path(path)
    where = _Where(str(path))
    raw = _read_yaml(path)
    if raw.get("merged_from"):
        if "stages" in raw:
            where.fail("stages", "a merged recipe derives its stage from merged_from; change it with --set")
        staged = load_recipe((path.parent / raw["merged_from"]).resolve())
        inherited = {k: v for k, v in to_dict(staged).items()
                     if k in ("model", "data", "seed", "eval", "precision", "rollouts")}
        changes = _stage_changes(raw.pop("stage_overrides", None), where, frozenset({"name", "data", "steps", "batch_size", "rollout_batch_size", "num_iterations"}))
        raw = {**inherited, **raw, "stages": [{**dataclasses.asdict(merged_stage(staged)), **changes}]}
    elif raw.get("based_on"):
        if "stages" in raw:
            where.fail("stages", "a recipe based_on another takes its stages from it; change them with stage_overrides")
        base = to_dict(load_recipe((path.parent / raw["based_on"]).resolve()))
        changes = _stage_changes(raw.pop("stage_overrides", None), where, frozenset({"name", "data"}))
        raw = {**{k: v for k, v in base.items() if k not in ("name", "merged_from")}, **raw,
               "stages": [{**st, **changes} for st in base["stages"]]}
    elif "stage_overrides" in raw:
        where.fail("stage_overrides", "only a derived recipe (merged_from or based_on) has stages to change")
    recipe = _build(Recipe, apply_overrides(raw, list(overrides), str(path)), "", where)
    _check(recipe, where)
    return recipe


def null_control(recipe: Recipe) -> Recipe:
    """The same recipe with rewards shuffled within each group (see `Recipe.shuffle_rewards`), as NAME-null."""
    if recipe.shuffle_rewards:
        return recipe
    return dataclasses.replace(recipe, name=f"{recipe.name}-null", shuffle_rewards=True)


def to_dict(recipe: Recipe) -> dict:
    return dataclasses.asdict(recipe)
