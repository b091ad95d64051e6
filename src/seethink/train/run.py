"""Run a whole recipe: resolve model and data, run stages in order, evaluate after each, resume on rerun.

    runs/<name>/recipe.yaml               the resolved recipe (after --set), what actually ran
    runs/<name>/environment.json          versions and machine
    runs/<name>/eval/start/               held-out evaluation of the starting model
    runs/<name>/stages/<k>-<stage>/       checkpoint/ (HF), metrics.jsonl, samples.jsonl (a few rollouts), eval/

A stage whose checkpoint is complete is skipped on rerun; an interrupted stage resumes from its last
in-stage TRL checkpoint. A rerun with a different recipe into the same run folder is refused.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import yaml

from seethink.errors import SeethinkError
from seethink.fileio import ensure_dir, write_json, write_text
from seethink.recipe import EvalSettings, Recipe, rollouts, to_dict
from seethink.train.dist import on_main, say, state
from seethink.train.stage import is_complete, run_stage

BUILTIN_WORLD_SIZES = {"train": 2000, "validation": 200, "test": 700}


def resolve_model(recipe: Recipe) -> Path:
    from seethink.models.base import base_path

    return base_path() if recipe.model == "base" else Path(recipe.model)


def resolve_data(recipe: Recipe) -> Path:
    """`world` means the built-in world with the recipe's seed, built once under the output folder."""
    if recipe.data != "world":
        root = Path(recipe.data)
        if not root.is_dir():
            raise SeethinkError(f"recipe data folder {root} does not exist")
        return root
    from seethink.world.build import build_world

    root = Path(recipe.output_dir) / f"world-seed{recipe.seed}"
    if not (root / "world.json").is_file():
        say(f"building the built-in world at {root} (once)")
        on_main(build_world, root, recipe.seed, BUILTIN_WORLD_SIZES)
    return root


def environment() -> dict:
    import torch
    import transformers
    import trl

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "trl": trl.__version__, "machine": platform.machine(), "cuda": torch.cuda.is_available(),
            "threads": torch.get_num_threads()}


def preflight(recipe: Recipe, start: Path, root: Path) -> None:
    """Check the model and every stage's data before anything is evaluated or trained: files, every row's
    schema, image files, pass rates where an ordering or filter needs them. A bad row in the last stage's
    data must not surface after hours of the earlier stages."""
    from seethink.data.io import split_file
    from seethink.models.load import check_model_dir
    from seethink.train.data import resolve, stage_records
    from seethink.train.stage import rows_per_round, stage_rows

    check_model_dir(start)
    if any(s.lora.r for s in recipe.stages):
        from seethink.train.lora import _peft

        _peft()  # a missing peft must not surface after the earlier stages have trained
    if recipe.rollouts.engine == "vllm" and any(s.algorithm == "grpo" for s in recipe.stages):
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise SeethinkError("rollouts.engine vllm needs vLLM (pip install vllm; CUDA GPUs only)")
    for stage in recipe.stages:
        for d in stage.data:
            try:
                split_file(resolve(root, d.path), d.split)
            except SeethinkError as e:
                raise SeethinkError(f"stage {stage.name}: data {d.path}: {e}") from None
        stage_records(stage, root, stage_rows(stage), rows_per_round(stage), recipe.seed)  # the rows it will train on
    for name in recipe.eval.datasets:
        try:
            split_file(root / name, recipe.eval.split)
        except SeethinkError as e:
            raise SeethinkError(f"eval: dataset {name}: {e}") from None


def _claim_run_dir(run_dir: Path, resolved: dict) -> None:
    f = run_dir / "recipe.yaml"
    if f.exists() and yaml.safe_load(f.read_text()) != resolved:  # checked by every process: all of them stop
        raise SeethinkError(f"{run_dir} holds a run of a different recipe; choose another name (--set name=…) or remove it")

    def write():
        ensure_dir(run_dir, "run folder")
        write_text(f, yaml.safe_dump(resolved, sort_keys=False))
        write_json(run_dir / "environment.json", environment())

    on_main(write)


def evaluate_into(model_path: Path, settings: EvalSettings, root: Path, out: Path, seed: int) -> dict | None:
    """Held-out evaluation (greedy) of one checkpoint on `root`'s datasets, written to `out/`; skipped if
    already there. In a multi-process run only the main process evaluates (the others get None)."""
    return on_main(_evaluate, model_path, settings, root, out, seed)


def _evaluate(model_path: Path, settings: EvalSettings, root: Path, out: Path, seed: int) -> dict:
    from seethink.data.io import load_records
    from seethink.eval.evaluate import evaluate_datasets

    if (out / "summary.json").is_file():
        return json.loads((out / "summary.json").read_text())
    datasets = {}
    for name in settings.datasets:
        recs = load_records(root / name, settings.split)
        datasets[name] = recs[: settings.limit] if settings.limit else recs
    return evaluate_datasets(model_path, datasets, out, settings.max_new_tokens, settings.batch_size, seed,
                             attribution=settings.attribution)


def _report(label: str, summary: dict | None) -> None:
    if summary is not None:  # None on the processes that did not evaluate
        print(f"  {label}: {_line(summary)}")


def _line(summary: dict) -> str:
    line = "  ".join(f"{k} {v['accuracy']:.3f}" for k, v in summary["capability"].items())
    att = summary.get("attribution", {}).get("visual_reasoning")
    if att and att["errors"]:
        line += f"  | visual-reasoning errors: {att['perception_share']:.0%} perception"
    return line


def run_recipe(recipe: Recipe) -> Path:
    start = resolve_model(recipe)
    root = resolve_data(recipe)
    preflight(recipe, start, root)
    run_dir = Path(recipe.output_dir) / recipe.name
    _claim_run_dir(run_dir, to_dict(recipe))
    processes = state().num_processes
    total = sum(rollouts(s) * processes for s in recipe.stages if s.algorithm == "grpo")
    say(f"run {recipe.name}: {len(recipe.stages)} stage(s) from {start}; {total} GRPO rollouts in total"
        f"{' (null control: rewards shuffled within groups)' if recipe.shuffle_rewards else ''}"
        f"{f' over {processes} processes' if processes > 1 else ''}; outputs in {run_dir}")
    _report("start", evaluate_into(start, recipe.eval, root, run_dir / "eval" / "start", recipe.seed))
    for k, stage in enumerate(recipe.stages, 1):
        stage_dir = run_dir / "stages" / f"{k}-{stage.name}"
        if is_complete(stage_dir):
            say(f"  stage {k} {stage.name}: already complete, skipped")
        else:
            t = time.time()
            say(f"  stage {k} {stage.name}: {stage.algorithm}, {stage.steps} steps, freeze_vision={stage.freeze_vision}")
            run_stage(stage, start, stage_dir, root, recipe.seed, recipe.report_to, recipe.precision, recipe.rollouts,
                      recipe.shuffle_rewards)
            on_main(write_json, stage_dir / "timing.json", {"seconds": round(time.time() - t, 1)})
        start = stage_dir / "checkpoint"
        _report(f"after {stage.name}", evaluate_into(start, recipe.eval, root, stage_dir / "eval", recipe.seed))
    return run_dir
