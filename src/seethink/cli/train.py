"""`seethink train [RECIPE]`: run a recipe; with no recipe, the main job (the staged recipe on the miniature)."""

from __future__ import annotations

from pathlib import Path

from seethink.cli.common import add_set
from seethink.errors import SeethinkError


def default_recipe() -> Path:
    from seethink.recipe import RECIPES_DIR

    for cand in (Path("recipes/staged.yaml"), RECIPES_DIR / "staged.yaml"):
        if cand.is_file():
            return cand
    raise SeethinkError("no recipe given and recipes/staged.yaml not found; pass a recipe path")


def train(a) -> None:
    from seethink.recipe import load_recipe, null_control, to_dict

    recipe = load_recipe(a.recipe or default_recipe(), a.set)
    if a.null:
        recipe = null_control(recipe)
    if a.dry_run:
        import yaml

        from seethink.resolve import model_path
        from seethink.train.engines import current_launch
        from seethink.train.memory import memory_report
        from seethink.train.run import check_one_engine, stages_to_run

        print(yaml.safe_dump(to_dict(recipe), sort_keys=False))
        count = stages_to_run(recipe, a.stage)
        live = current_launch()  # under a launcher, its own processes and sharding; else the recipe's hardware
        sharding, gpus = (
            (live.sharding, live.processes) if live.processes > 1 else (recipe.hardware.sharding, recipe.hardware.gpus)
        )
        text, refused = memory_report(recipe, model_path(recipe.model), sharding, gpus)
        print(text)
        if refused:
            raise SeethinkError(refused)
        check_one_engine(recipe, Path(recipe.output_dir) / recipe.name, count)  # the run's own refusal
        return
    from seethink.resolve import recipe_paths
    from seethink.train.dist import init, say
    from seethink.train.run import run_recipe

    init(recipe.hardware.process_timeout_minutes)  # before anything (the built-in world) waits on a barrier

    say(f"done: {run_recipe(recipe, *recipe_paths(recipe), until=a.stage)}")


def add_parsers(sub) -> None:
    tr = sub.add_parser("train", help="run a recipe (default: the staged recipe on the built-in world)")
    tr.add_argument("recipe", nargs="?", help="recipe YAML (default: recipes/staged.yaml)")
    add_set(tr)
    tr.add_argument(
        "--null",
        action="store_true",
        help="the null control: the same recipe with rewards shuffled within each group, run as NAME-null",
    )
    tr.add_argument(
        "--stage",
        metavar="NAME",
        help="stop after this stage (finished stages are skipped; rerun with the next to go on): one GRPO "
        "stage per launch, as colocated vLLM rollouts need",
    )
    tr.add_argument("--dry-run", action="store_true", help="validate and print the resolved recipe, then stop")
    tr.set_defaults(func=train)
