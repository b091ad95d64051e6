"""Run a whole recipe from its model and data: stages in order, a held-out evaluation after each, resume on rerun.

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
from contextlib import nullcontext
from pathlib import Path

import torch
import yaml

from seethink.algorithms import algorithm
from seethink.configs import read_yaml
from seethink.errors import SeethinkError
from seethink.eval.evaluate import EvalOptions, evaluate_datasets
from seethink.eval.judge import make_judge
from seethink.fileio import ensure_dir, write_json, write_text, writer_lock
from seethink.models.endpoint import usage_lines
from seethink.models.freeze import check_family
from seethink.models.load import check_model_dir
from seethink.models.vllm_support import check_vllm
from seethink.recipe import EvalSettings, Inputs, Recipe, Stage, rollouts, to_dict
from seethink.records.io import load_records, split_file
from seethink.train.data import resolve
from seethink.train.dist import from_main, is_main, on_main, say, shards, state, wait
from seethink.train.engines import check_launch, current_launch
from seethink.train.lora import _peft
from seethink.train.memory import memory_report
from seethink.train.plan import RunSettings, StageSetup, plan_stage, planning_processor
from seethink.train.stage import is_complete, run_stage


def environment() -> dict:
    import torch
    import transformers
    import trl

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "machine": platform.machine(),
        "cuda": torch.cuda.is_available(),
        "threads": torch.get_num_threads(),
    }


def stages_to_run(recipe: Recipe, until: str | None = None) -> int:
    """How many of the recipe's stages this launch goes through: all, or those up to and including `until`."""
    if until is None:
        return len(recipe.stages)
    names = [s.name for s in recipe.stages]
    if until not in names:
        raise SeethinkError(f"--stage {until}: the recipe has no such stage (its stages: {', '.join(names)})")
    return names.index(until) + 1


def check_one_engine(recipe: Recipe, run_dir: Path, count: int) -> None:
    """A process holds one colocated vLLM engine: TRL starts it with vLLM's `external_launcher` inside the training
    processes, and it cannot be shut down without tearing down their process group. So with colocated vLLM a launch
    trains at most one GRPO stage; the next launch of the same command skips the finished stages and goes on."""
    ro = recipe.rollouts
    if ro.engine != "vllm" or ro.vllm_mode != "colocate":
        return
    pending = [
        s.name
        for k, s in enumerate(recipe.stages[:count], 1)
        if algorithm(s).samples and not is_complete(run_dir / "stages" / f"{k}-{s.name}")
    ]
    if len(pending) > 1:
        raise SeethinkError(
            f"rollouts: colocated vLLM runs one GRPO stage per process, and {len(pending)} are left "
            f"({', '.join(pending)}): run them one launch each, --stage {pending[0]} first, then "
            "--stage for the next (finished stages are skipped), or use vllm_mode: server"
        )


def preflight(recipe: Recipe, start: Path, root: Path, count: int | None = None) -> list[StageSetup]:
    """Check the model and every stage's data before anything is evaluated or trained: files, every row's
    schema, image files, pass rates where an ordering or filter needs them (a bad row in the last stage's
    data must not surface after hours of the earlier stages), and plan every stage once: its rows and TRL
    config (`seethink.train.plan`), which the run then trains from."""
    check_one_engine(recipe, Path(recipe.output_dir) / recipe.name, len(recipe.stages) if count is None else count)
    check_model_dir(start)
    launch = current_launch()
    check_launch(launch, [s.name for s in recipe.stages if s.lora.r])
    if torch.cuda.is_available():  # the plan is for GPUs; on CPU it has nothing to say
        text, refused = memory_report(recipe, start, launch.sharding, launch.processes)
        say(text)
        if refused and recipe.hardware.check_memory:
            raise SeethinkError(f"{refused} (hardware.check_memory: false runs it anyway)")
    check_family(start, freeze=any(s.freeze_vision for s in recipe.stages))
    if any(s.lora.r for s in recipe.stages):
        _peft()  # a missing peft must not surface after the earlier stages have trained
    if recipe.rollouts.engine == "vllm" and any(algorithm(s).samples for s in recipe.stages):
        check_vllm("rollouts.engine vllm")
    for stage in recipe.stages:
        for d in stage.data:
            try:
                split_file(resolve(root, d.path), d.split)
            except SeethinkError as e:
                raise SeethinkError(f"stage {stage.name}: data {d.path}: {e}") from None
    splits = {recipe.eval.split} | ({recipe.eval.every_split or recipe.eval.split} if recipe.eval.every else set())
    for name in recipe.eval.datasets:
        for split in sorted(splits):
            try:
                split_file(root / name, split)
            except SeethinkError as e:
                raise SeethinkError(f"eval: dataset {name}: {e}") from None
    processor = planning_processor(recipe, start)
    run_dir, run = Path(recipe.output_dir) / recipe.name, RunSettings.of(recipe, root)  # loads validation records
    # the rows each stage trains on (prompt lengths as the start's processor counts them, under the pixel bounds)
    plans = [
        plan_stage(s, recipe, root, _stage_dir(run_dir, k, s), processor, run) for k, s in enumerate(recipe.stages, 1)
    ]
    return plans


def _stage_dir(run_dir: Path, k: int, stage: Stage) -> Path:
    return run_dir / "stages" / f"{k}-{stage.name}"


def _claim_run_dir(run_dir: Path, resolved: dict) -> None:
    f = run_dir / "recipe.yaml"
    # checked by every process: all of them stop; `kept` is what the run recorded, not part of the recipe
    if f.exists() and {k: v for k, v in read_yaml(f, "run recipe").items() if k != KEPT} != resolved:
        raise SeethinkError(
            f"{run_dir} holds a run of a different recipe; choose another name (--set name=…) or remove it"
        )

    def write():
        ensure_dir(run_dir, "run folder")
        write_text(f, yaml.safe_dump(resolved, sort_keys=False))
        write_json(run_dir / "environment.json", environment())

    on_main(write)


KEPT = "kept"
"""recipe.yaml's record of the step each finished stage handed on ({stage: {step, metric, value}}); not part of
the recipe (a rerun compares everything else)."""


def _record_kept(run_dir: Path, stage_name: str, stage_dir: Path) -> None:
    f = run_dir / "recipe.yaml"
    info = json.loads((stage_dir / "checkpoint" / "seethink_stage.json").read_text()).get("kept")
    raw = read_yaml(f, "run recipe")
    if not info or info.get("metric") is None or raw.get(KEPT, {}).get(stage_name) == info:  # keep: last
        return
    raw[KEPT] = {**raw.get(KEPT, {}), stage_name: info}
    write_text(f, yaml.safe_dump(raw, sort_keys=False))


def evaluate_into(
    model_path: Path,
    settings: EvalSettings,
    root: Path,
    out: Path,
    seed: int,
    inputs: Inputs = Inputs(),
    precision: str = "auto",
    attn: str = "auto",
) -> dict:
    """Held-out evaluation (greedy) of one checkpoint on `root`'s datasets, written to `out/`; skipped if already
    there. Every process loads the checkpoint whole and evaluates its share of the records (`dist.shards`); the
    main process writes the files, and every process returns the summary."""
    done = out / "summary.json"
    if from_main(done.is_file):
        return json.loads(done.read_text())
    datasets = {}
    for name in settings.datasets:
        recs = load_records(root / name, settings.split)
        datasets[name] = recs[: settings.limit] if settings.limit else recs
    judge = make_judge(settings.judge, settings.judge_model or None) if settings.attribution == "judge" else None
    opts = EvalOptions(
        settings.max_new_tokens,
        settings.batch_size,
        seed,
        attribution=settings.attribution,
        pixels=(inputs.min_pixels, inputs.max_pixels),
        precision=precision,
        attn=attn,
    )
    summary = evaluate_datasets(model_path, datasets, out, opts, judge=judge, shards=shards())
    wait()  # the files are written before any process goes on
    for line in usage_lines(judge):  # an endpoint judge: its requests, retries and failures
        say(f"  {line}")
    return summary


def _report(label: str, summary: dict) -> None:
    say(f"  {label}: {_line(summary)}")


def _line(summary: dict) -> str:
    line = "  ".join(f"{k} {v['accuracy']:.3f}" for k, v in summary["capability"].items())
    att = summary.get("attribution", {}).get("visual_reasoning")
    if att and att["errors"]:
        line += f"  | visual-reasoning errors: {att['perception_share']:.0%} perception"
    return line


def run_recipe(recipe: Recipe, start: Path, root: Path, until: str | None = None) -> Path:
    """Run `recipe` from the model folder `start` on the data under `root` (`seethink.resolve.recipe_paths`);
    `until`: stop after that stage (the rest run on the next launch)."""
    count = stages_to_run(recipe, until)
    plans = preflight(recipe, start, root, count)
    run_dir = Path(recipe.output_dir) / recipe.name
    with writer_lock(run_dir, "seethink train") if is_main() else nullcontext():  # one writer per run folder
        return _run(recipe, start, root, run_dir, plans[:count])


def _run(recipe: Recipe, start: Path, root: Path, run_dir: Path, plans: list[StageSetup]) -> Path:
    _claim_run_dir(run_dir, to_dict(recipe))
    processes = state().num_processes
    total = sum(rollouts(s) * processes for s in recipe.stages if algorithm(s).samples)
    say(
        f"run {recipe.name}: {len(recipe.stages)} stage(s) from {start}; {total} GRPO rollouts in total"
        f"{' (null control: rewards shuffled within groups)' if recipe.shuffle_rewards else ''}"
        f"{f' over {processes} processes' if processes > 1 else ''}; outputs in {run_dir}"
    )
    _report(
        "start",
        evaluate_into(
            start,
            recipe.eval,
            root,
            run_dir / "eval" / "start",
            recipe.seed,
            recipe.inputs,
            recipe.precision,
            recipe.attn_implementation,
        ),
    )
    for k, setup in enumerate(plans, 1):
        stage = setup.stage
        stage_dir = _stage_dir(run_dir, k, stage)
        if is_complete(stage_dir):
            say(f"  stage {k} {stage.name}: already complete, skipped")
        else:
            t = time.time()
            say(
                f"  stage {k} {stage.name}: {stage.algorithm}, {stage.steps} steps, freeze_vision={stage.freeze_vision}"
            )
            run_stage(setup, start, stage_dir)
            on_main(write_json, stage_dir / "timing.json", {"seconds": round(time.time() - t, 1)})
        start = stage_dir / "checkpoint"
        on_main(_record_kept, run_dir, stage.name, stage_dir)
        _report(
            f"after {stage.name}",
            evaluate_into(
                start,
                recipe.eval,
                root,
                stage_dir / "eval",
                recipe.seed,
                recipe.inputs,
                recipe.precision,
                recipe.attn_implementation,
            ),
        )
    count = len(plans)
    if count < len(recipe.stages):
        say(
            f"  stopped after stage {count} {recipe.stages[count - 1].name} (--stage); the same command with "
            f"--stage {recipe.stages[count].name} or without --stage goes on"
        )
    return run_dir
