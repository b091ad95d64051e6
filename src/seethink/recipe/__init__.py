"""Recipes: YAML files that name the model, the data, the seed and an ordered list of stages.

Validated before anything runs (`seethink.configs`): an unknown key, a wrong type or an impossible value is one
error line naming the file and the field (`recipes/x.yaml: stages.1.lr: expected a number, got 'fast'`). Each
dataclass checks its own values; `check` keeps the rules across fields. `--set stages.0.steps=2` overrides any
field before validation.

A merged recipe (`merged_from: staged.yaml`) is derived from a staged one: one stage over the union of
its datasets, weighted by each stage's rollout budget, with the same total number of rollouts.
`stage_overrides: {ordering: difficulty}` changes settings of that derived stage (not its data or budget).
A recipe `based_on: staged.yaml` is that recipe under a new name, with `stage_overrides` applied to every stage.

Modules, by concern: `stage` (a stage's fields), `settings` (evaluation, rollouts, input bounds, hardware),
`schema` (the recipe), `budgets` (rollout rounds, updates, micro-batches), `rules` (checks across fields) and
`load` (reading a file, derived recipes). Everything is importable from `seethink.recipe`.
"""

from pathlib import Path

from seethink.recipe.budgets import accumulation_steps, micro_batch, rollouts, round_completions, updates_per_round
from seethink.recipe.load import MERGED_FIXED, load_recipe, merged_stage, null_control, to_dict
from seethink.recipe.rules import check
from seethink.recipe.schema import Recipe
from seethink.recipe.settings import (
    ATTRIBUTIONS,
    SHARDINGS,
    Attribution,
    Engine,
    EvalSettings,
    Hardware,
    Inputs,
    Precision,
    Rollouts,
    Sharding,
    VllmMode,
)
from seethink.recipe.stage import (
    ALGORITHMS,
    KEEP_METRICS,
    Algorithm,
    DataSource,
    Lora,
    Stage,
    is_folder_name,
    keep_metric,
)

RECIPES_DIR = Path(__file__).resolve().parents[3] / "recipes"  # the shipped recipes (in a source checkout)

__all__ = [
    "ALGORITHMS",
    "ATTRIBUTIONS",
    "Algorithm",
    "Attribution",
    "DataSource",
    "Engine",
    "EvalSettings",
    "Hardware",
    "Inputs",
    "KEEP_METRICS",
    "Lora",
    "MERGED_FIXED",
    "Precision",
    "RECIPES_DIR",
    "Recipe",
    "Rollouts",
    "SHARDINGS",
    "Sharding",
    "Stage",
    "VllmMode",
    "accumulation_steps",
    "check",
    "is_folder_name",
    "keep_metric",
    "load_recipe",
    "merged_stage",
    "micro_batch",
    "null_control",
    "rollouts",
    "round_completions",
    "to_dict",
    "updates_per_round",
]
