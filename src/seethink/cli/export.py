"""`seethink export verl RECIPE`: write a recipe out for EasyR1/verl on a GPU cluster."""

from __future__ import annotations

from seethink.cli.common import add_set, positive
from seethink.fileio import writer_lock


def export_verl(a) -> None:
    from seethink.export.verl import export_verl
    from seethink.recipe import load_recipe
    from seethink.resolve import recipe_paths

    recipe = load_recipe(a.recipe, a.set)
    model, root = recipe_paths(recipe)
    with writer_lock(a.out, "seethink export verl"):  # one export per folder; a second one stops at once
        out = export_verl(recipe, root, a.out, a.gpus, model=model)
    print(
        f"{len(recipe.stages)} stage(s) of {recipe.name} exported to {out}; on the cluster: "
        f"EASYR1_HOME=/path/to/EasyR1 bash {out / 'launch_easyr1.sh'}"
    )


def add_parsers(sub) -> None:
    xo = sub.add_parser("export", help="write a recipe out for a cluster engine")
    xosub = xo.add_subparsers(dest="export_command", required=True, metavar="ENGINE")
    xv = xosub.add_parser(
        "verl", help="EasyR1/verl: per-stage parquet, reward module, configs, a chained launch script"
    )
    xv.add_argument("recipe", help="recipe YAML (GRPO stages)")
    xv.add_argument("--out", required=True, help="export folder (written whole, or not at all)")
    xv.add_argument(
        "--gpus",
        type=positive,
        default=8,
        help="GPUs per node; a recipe's batch sizes are per device, so prompts per round scale with it",
    )
    add_set(xv, "override a recipe field")
    xv.set_defaults(func=export_verl)
