"""A stage's plan, built once before anything trains (`seethink.train.run.preflight`) and handed to the stage
(`seethink.train.stage.run_stage`): the rows it trains on, in order, its TRL config's fields (already accepted
by TRL) and what it reads of the rest of the recipe. A stage is run from its plan, never from the recipe.

The plan keeps the config's *fields*, not a config object: transformers keeps process-wide state from the last
TrainingArguments built (its DeepSpeed config), so each stage builds its object when it starts. The rows of
every stage are held from preflight to the run's end (dicts with image paths; images are decoded as the trainer
reads them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seethink.algorithms import algorithm
from seethink.models.load import load_processor
from seethink.models.processors import bound_pixels
from seethink.recipe import EvalSettings, Recipe, Stage
from seethink.train.data import stage_records
from seethink.train.dist import state
from seethink.train.trl_config import config_from, trl_args
from seethink.train.validation import validation_records


def rows_per_round(stage: Stage, processes: int | None = None) -> int:
    """Prompts one GRPO rollout round samples (SFT: examples one step trains on), over all `processes` (default:
    those of this run); a recipe's batch sizes are per device."""
    return algorithm(stage).rows_per_round(stage, state().num_processes if processes is None else processes)


def stage_rows(stage: Stage, processes: int | None = None) -> int:
    """Rows (prompts or examples) the whole stage trains on, each exactly once."""
    return algorithm(stage).stage_rows(stage, state().num_processes if processes is None else processes)


@dataclass(frozen=True)
class RunSettings:
    """What a stage reads of its recipe besides its own fields."""

    seed: int
    shuffle_rewards: bool
    attn_implementation: str
    min_pixels: int
    max_pixels: int
    eval: EvalSettings
    validation: list[dict] | None
    """The records of in-stage evaluation (`eval.every`), loaded once for all stages; None without it."""

    @classmethod
    def of(cls, recipe: Recipe, root: Path) -> RunSettings:
        return cls(
            recipe.seed,
            recipe.shuffle_rewards,
            recipe.attn_implementation,
            recipe.inputs.min_pixels,
            recipe.inputs.max_pixels,
            recipe.eval,
            validation_records(recipe.eval, root) if recipe.eval.every else None,
        )


@dataclass(frozen=True)
class StageSetup:
    stage: Stage
    records: list[dict]
    """The rows the stage trains on, each once, in the stage's order."""
    trl_args: dict
    """Its TRL config's fields (output_dir: the stage's work folder), accepted by TRL when planned."""
    run: RunSettings


def planning_processor(recipe: Recipe, start: Path):
    """The processor that counts prompt tokens for `inputs.max_prompt_length` (the start model's, under the
    recipe's pixel bounds; a stage's checkpoint saves it unchanged); None when prompts are not bounded."""
    if not recipe.inputs.max_prompt_length:
        return None
    processor = load_processor(start)
    bound_pixels(processor, recipe.inputs.min_pixels, recipe.inputs.max_pixels)
    return processor


def plan_stage(
    stage: Stage, recipe: Recipe, root: Path, stage_dir: Path, processor=None, run: RunSettings | None = None
) -> StageSetup:
    """The plan of one stage of `recipe` whose folder is `stage_dir`. `processor` (`planning_processor`) counts
    prompt tokens where `inputs.max_prompt_length` bounds them."""
    if recipe.inputs.max_prompt_length and processor is None:
        raise ValueError("plan_stage: inputs.max_prompt_length needs the processor (planning_processor)")
    records = stage_records(
        stage, root, stage_rows(stage), rows_per_round(stage), recipe.seed, processor, recipe.inputs.max_prompt_length
    )
    args = trl_args(stage, recipe, stage_dir / "work")
    config_from(stage, args)  # TRL's own checks of the settings, before anything trains
    return StageSetup(stage, records, args, run or RunSettings.of(recipe, root))
