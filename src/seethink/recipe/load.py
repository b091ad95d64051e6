"""Loading a recipe file, and the recipes derived from another: merged (`merged_from`), renamed with changed
stages (`based_on`), and the shuffled-reward null control."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seethink.algorithms import algorithm
from seethink.configs import Where, apply_overrides, build, read_yaml, unknown_key
from seethink.errors import SeethinkError
from seethink.recipe.budgets import rollouts, round_completions, updates_per_round
from seethink.recipe.rules import check
from seethink.recipe.schema import Recipe
from seethink.recipe.stage import DataSource, Stage
from seethink.reward_specs import absolute_spec


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
        if not algorithm(s).samples:
            raise SeethinkError(
                f"cannot merge {staged.name}: stage {s.name!r} is {s.algorithm}, merging needs GRPO stages"
            )
        if s.rewards != first.rewards:
            raise SeethinkError(
                f"cannot merge {staged.name}: stage {s.name!r} has rewards {s.rewards}, stage "
                f"{first.name!r} {first.rewards}; one pooled run has one reward"
            )
        total_w = sum(d.weight for d in s.data)
        sources += [DataSource(d.path, rollouts(s) * d.weight / total_w, d.split) for d in s.data]
    total = sum(rollouts(s) for s in staged.stages)
    per_round = round_completions(first)
    if total % per_round:
        raise SeethinkError(
            f"cannot merge {staged.name}: total rollouts {total} not divisible by the first stage's "
            f"rollout batch {per_round}"
        )
    return dataclasses.replace(
        first,
        name="merged",
        data=sources,
        steps=total // per_round * updates_per_round(first),
        max_completion_length=max(s.max_completion_length for s in staged.stages),
        freeze_vision=False,
        ordering="shuffle",
    )


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


MAX_DERIVATION = 8  # recipes derived from recipes derived from …: deeper than this is a mistake


def _parent(raw: dict, key: str, path: Path, where: Where, chain: tuple[Path, ...]) -> Recipe:
    """The recipe `raw[key]` names (relative to `path`), refusing one that leads back to a recipe of `chain`."""
    name = raw[key]
    if not isinstance(name, str):
        where.fail(key, f"expected a recipe file name, got {type(name).__name__}")
    parent = (path.parent / name).resolve()
    if parent in chain:
        where.fail(key, f"{name} leads back to {parent.name}: recipes cannot derive from themselves")
    if len(chain) >= MAX_DERIVATION:
        where.fail(key, f"more than {MAX_DERIVATION} recipes deep")
    return load_recipe(parent, (), _chain=chain)


def _derived(raw: dict, path: Path, where: Where, chain: tuple[Path, ...]) -> dict:
    """The raw mapping of a `merged_from` or `based_on` recipe, with its parent's stages filled in."""
    if raw.get("merged_from"):
        if "stages" in raw:
            where.fail("stages", "a merged recipe derives its stage from merged_from; change it with --set")
        staged = _parent(raw, "merged_from", path, where, chain)
        inherited = {
            k: v
            for k, v in to_dict(staged).items()
            if k in ("model", "data", "seed", "eval", "precision", "rollouts", "inputs", "hardware")
        }
        changes = _stage_changes(raw.pop("stage_overrides", None), where, MERGED_FIXED)
        return {**inherited, **raw, "stages": [{**dataclasses.asdict(merged_stage(staged)), **changes}]}
    if raw.get("based_on"):
        if "stages" in raw:
            where.fail("stages", "a recipe based_on another takes its stages from it; change them with stage_overrides")
        base = to_dict(_parent(raw, "based_on", path, where, chain))
        changes = _stage_changes(raw.pop("stage_overrides", None), where, frozenset({"name", "data"}))
        return {
            **{k: v for k, v in base.items() if k not in ("name", "merged_from")},
            **raw,
            "stages": [{**st, **changes} for st in base["stages"]],
        }
    if "stage_overrides" in raw:
        where.fail("stage_overrides", "only a derived recipe (merged_from or based_on) has stages to change")
    return raw


def load_recipe(path: str | Path, overrides: list[str] = (), _chain: tuple[Path, ...] = ()) -> Recipe:
    path = Path(path)
    where = Where(str(path))
    raw = _derived(read_yaml(path, "recipe"), path, where, (*_chain, path.resolve()))
    recipe = build(Recipe, apply_overrides(raw, list(overrides)), "", where)
    recipe = dataclasses.replace(
        recipe,
        stages=[
            dataclasses.replace(s, rewards={absolute_spec(k, path.parent): w for k, w in s.rewards.items()})
            for s in recipe.stages
        ],
    )
    check(recipe, where)
    return recipe


def null_control(recipe: Recipe) -> Recipe:
    """The same recipe with rewards shuffled within each group (see `Recipe.shuffle_rewards`), as NAME-null."""
    if recipe.shuffle_rewards:
        return recipe
    return dataclasses.replace(recipe, name=f"{recipe.name}-null", shuffle_rewards=True)


def to_dict(recipe: Recipe) -> dict:
    return dataclasses.asdict(recipe)
