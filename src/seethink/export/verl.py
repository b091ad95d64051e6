"""`seethink export verl RECIPE --out DIR`: run a recipe's GRPO stages on a cluster with EasyR1 (or verl).

Written to DIR:
    stages/<k>-<name>/train.parquet   the exact rows seethink would train on, in order (mixture weights,
                                      ordering and difficulty curricula already applied): steps × prompts per step
    stages/<k>-<name>/val.parquet     held-out rows of the stage's own datasets (the recipe's eval split)
    stages/<k>-<name>/easyr1.yaml     the stage's EasyR1 config (paper settings from the recipe)
    reward.py                         `compute_score` (EasyR1 batch) and `compute_score_verl` (verl), both
                                      seethink's 0.9·accuracy + 0.1·format; standard library + math-verify
                                      only (no seethink on the cluster)
    format_prompt.jinja               the instruction seethink appends to every question
    launch_easyr1.sh                  chains the stages: train, merge the FSDP shards into a Hugging Face
                                      folder (the step the paper's scripts leave out), start the next stage
                                      from it; a finished stage is skipped on rerun
    recipe.yaml                       the resolved recipe
Parquet columns serve both engines: EasyR1 reads `problem` (with `<image>`), `ground_truth`, `images`;
verl reads `prompt` (chat messages), `data_source`, `reward_model.ground_truth`, `images`, `extra_info`.
Images are embedded as their files' bytes, once per row: a schedule that repeats records (several epochs)
repeats their bytes. Text-only stages have no `images` column. Data order is fixed here: `data.shuffle: false`.
Only GRPO stages export (EasyR1 has no SFT trainer); SFT stages are refused with a one-line error.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

from seethink.algorithms import algorithm
from seethink.errors import SeethinkError
from seethink.fileio import atomic_dir, check_not_input, check_owned, write_text
from seethink.models.load import load_processor
from seethink.models.processors import bound_pixels
from seethink.prompting import INSTRUCTION
from seethink.recipe import Recipe, micro_batch, to_dict, updates_per_round
from seethink.records.io import load_image, load_records
from seethink.rewards import REWARDS
from seethink.train.data import prompt_tokens, resolve, stage_records
from seethink.train.plan import rows_per_round, stage_rows

ENGINE_NOTE = "EasyR1's config keys as of its 2026-07 head (tests/data/easyr1_config_fields.json)"


def ground_truth(rec: dict) -> str:
    if rec.get("options"):
        return json.dumps({"answer": rec["answer"], "options": rec["options"]}, ensure_ascii=False)
    return str(rec["answer"])


def engine_rows(records: list[dict], split: str) -> list[dict]:
    """Rows both engines read. Images are the files' own bytes (a JPEG stays a JPEG), read once per file."""
    from functools import lru_cache

    @lru_cache(maxsize=None)
    def image_bytes(path: str) -> bytes:

        load_image(path)  # a corrupt file fails here, with its name, not on the cluster
        return Path(path).read_bytes()

    with_images = any(r["images"] for r in records)
    rows = []
    for i, r in enumerate(records):
        text = "<image>" * len(r["images"]) + r["problem"]
        gt = ground_truth(r)
        row = {
            "problem": text,
            "ground_truth": gt,
            "answer": str(r["answer"]),
            "prompt": [{"role": "user", "content": f"{text}\n{INSTRUCTION}"}],
            "data_source": f"seethink/{r['capability']}",
            "ability": r["capability"],
            "reward_model": {"style": "rule", "ground_truth": gt},
            "extra_info": {"id": r["id"], "index": i, "split": split, "family": r.get("family") or ""},
        }
        if with_images:  # text-only data has no image column at all: EasyR1 treats its presence as multimodal
            row["images"] = [{"bytes": image_bytes(p), "path": None} for p in r["images"]]
        rows.append(row)
    return rows


def write_parquet(path: Path, rows: list[dict]) -> None:
    import datasets

    features = {
        "problem": datasets.Value("string"),
        "ground_truth": datasets.Value("string"),
        "answer": datasets.Value("string"),
        "prompt": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
        "data_source": datasets.Value("string"),
        "ability": datasets.Value("string"),
        "reward_model": {"style": datasets.Value("string"), "ground_truth": datasets.Value("string")},
        "extra_info": {
            "id": datasets.Value("string"),
            "index": datasets.Value("int64"),
            "split": datasets.Value("string"),
            "family": datasets.Value("string"),
        },
    }
    if rows and "images" in rows[0]:
        features["images"] = datasets.List(datasets.Image())
    datasets.disable_progress_bars()
    try:
        datasets.Dataset.from_list(rows, features=datasets.Features(features)).to_parquet(str(path))
    finally:
        datasets.enable_progress_bars()


def easyr1_config(
    recipe: Recipe, k: int, gpus: int, prompts_per_round: int, stage_dir: str, prompt_tokens: int, images_per_row: int
) -> dict:
    """EasyR1 counts a step per rollout round (`rollout_batch_size` prompts), updated in minibatches of
    `global_batch_size` prompts, `ppo_epochs` times over. Keys follow EasyR1's config dataclasses (recorded in
    tests/data/easyr1_config_fields.json). `prompt_tokens`: the prompt bound EasyR1 enforces; the rows were already
    filtered to it, so EasyR1's own filter is off and a longer prompt stops it (truncation: error) instead of a row
    silently dropped. Pixel bounds are the recipe's (null: none), not EasyR1's default 512² floor, which would
    upscale small images."""
    s, ro = recipe.stages[k], recipe.rollouts
    rounds = s.steps // updates_per_round(s)
    return {
        "data": _easyr1_data(recipe, s, stage_dir, prompt_tokens, prompts_per_round),
        "algorithm": {
            "adv_estimator": "grpo",
            "disable_kl": s.beta == 0,
            "use_kl_loss": s.beta > 0,
            "kl_penalty": "low_var_kl",
            "kl_coef": s.beta,
        },
        "worker": {
            "actor": _easyr1_actor(s, gpus),
            "rollout": {
                "n": s.num_generations,
                "temperature": s.temperature,
                "top_p": 1.0,
                "seed": recipe.seed,
                "tensor_parallel_size": ro.vllm_tensor_parallel_size,
                "gpu_memory_utilization": ro.vllm_gpu_memory_utilization,
                "max_model_len": prompt_tokens + s.max_completion_length,
                "limit_images": images_per_row,
            },
            "ref": {"fsdp": {"enable_full_shard": True, "enable_cpu_offload": True}},
            "reward": {"reward_function": "REWARD_FUNCTION"},
        },
        "trainer": {
            "max_steps": rounds,
            "total_epochs": 1,
            "project_name": "seethink",
            "experiment_name": f"{recipe.name}-{k + 1}-{s.name}",
            "n_gpus_per_node": gpus,
            "nnodes": 1,
            "save_freq": rounds,
            "save_limit": 1,
            "val_freq": -1,
            "val_before_train": False,
            "logger": ["console"],
        },
    }


def _easyr1_data(recipe: Recipe, s, stage_dir: str, prompt_tokens: int, prompts_per_round: int) -> dict:
    inputs = recipe.inputs
    return {
        "train_files": f"{stage_dir}/train.parquet",
        "val_files": f"{stage_dir}/val.parquet",
        "prompt_key": "problem",
        "answer_key": "ground_truth",
        "image_key": "images",
        "format_prompt": "FORMAT_PROMPT",
        "max_prompt_length": prompt_tokens,
        "max_response_length": s.max_completion_length,
        "rollout_batch_size": prompts_per_round,
        "shuffle": False,
        "seed": recipe.seed,
        "min_pixels": inputs.min_pixels or None,
        "max_pixels": inputs.max_pixels or None,
        "filter_overlong_prompts": False,
    }


def _easyr1_actor(s, gpus: int) -> dict:
    micro = micro_batch(s)
    offload = {"offload_params": True, "offload_optimizer": True}  # EasyR1's example, as the paper's scripts ran it
    return {
        "global_batch_size": s.batch_size // s.num_generations * gpus,
        "ppo_epochs": s.num_iterations,
        "micro_batch_size_per_device_for_update": micro,
        "micro_batch_size_per_device_for_experience": micro,
        "max_grad_norm": s.max_grad_norm,
        "clip_ratio_low": s.epsilon,
        "clip_ratio_high": s.epsilon_high,
        "loss_avg_mode": EASYR1_LOSS_MODES[s.loss_type],
        "model": {
            "model_path": "MODEL_PATH",
            "freeze_vision_tower": s.freeze_vision,
            "enable_gradient_checkpointing": True,
        },
        "optim": {"lr": s.lr, "weight_decay": s.weight_decay, "lr_warmup_ratio": s.warmup_ratio},
        "fsdp": {"enable_full_shard": True},
        "offload": offload,
    }


def reward_module(weights: dict[str, float]) -> str:
    """reward.py for the cluster: seethink.grading's text, then the EasyR1/verl interface (its package-only import
    block removed), with the recipe's reward weights. Standard library and math-verify only."""
    here = Path(__file__).parent
    grading = (here.parent / "grading.py").read_text()
    interface = (here / "easyr1_reward.py").read_text()
    start, end = interface.index("# --- package only"), interface.index("# --- end of the package-only block\n")
    interface = interface[:start] + interface[end + len("# --- end of the package-only block\n") :]
    interface = interface.replace('WEIGHTS = {"accuracy": 0.9, "format": 0.1}', f"WEIGHTS = {weights!r}")
    return (
        f"# written by `seethink export verl`: seethink/grading.py, then seethink/export/easyr1_reward.py\n"
        f"{grading}\n\n# {'-' * 60} the EasyR1 / verl interface\n{interface}"
    )


def _prompt_bound(recipe: Recipe, processor, records: list[dict]) -> int:
    """The prompt bound EasyR1 is given: the recipe's, or without one the longest prompt measured here."""
    if recipe.inputs.max_prompt_length:
        return recipe.inputs.max_prompt_length
    if processor is None:
        raise SeethinkError(
            "inputs.max_prompt_length: the recipe sets no prompt bound and the model is not a local "
            "folder to measure prompts with; set it (the paper: 2048) so EasyR1 neither drops nor "
            "truncates rows"
        )
    return max(prompt_tokens(processor, records))


def _processor(model: Path, recipe: Recipe):
    """The model's processor under the recipe's pixel bounds, where the model is a local folder (else None): the
    rows are filtered and measured as `seethink train` would."""
    if not (model / "config.json").is_file():
        return None
    processor = load_processor(model)
    bound_pixels(processor, recipe.inputs.min_pixels, recipe.inputs.max_pixels)
    return processor


LAUNCH = """#!/usr/bin/env bash
# {name}: {n} GRPO stage(s) with EasyR1, written by `seethink export verl`.
#   export EASYR1_HOME=/path/to/EasyR1   # a checkout with verl/ and scripts/model_merger.py
#   bash launch_easyr1.sh                # optional: MODEL_PATH=... CHECKPOINTS=...
# Each stage trains, then its FSDP checkpoint is merged into a Hugging Face folder that the next stage starts
# from. A stage with a DONE marker is skipped on rerun; an interrupted stage starts again from its beginning.
set -euo pipefail
: "${{EASYR1_HOME:?set EASYR1_HOME to an EasyR1 checkout}}"
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
FIRST_MODEL={model}  # quoted for the shell: a path is never run as code
MODEL="${{MODEL_PATH:-$FIRST_MODEL}}"
CHECKPOINTS="${{CHECKPOINTS:-$HERE/checkpoints}}"
PYTHON="${{PYTHON:-python3}}"

run_stage() {{  # run_stage NAME: trains stages/NAME from $MODEL, then sets MODEL to its merged checkpoint
  local name="$1" out="$CHECKPOINTS/$1"
  if [ ! -f "$out/DONE" ]; then
    echo "== stage $name from $MODEL"
    (cd "$EASYR1_HOME" && "$PYTHON" -m verl.trainer.main config="$HERE/stages/$name/easyr1.yaml" \\
        data.train_files="$HERE/stages/$name/train.parquet" data.val_files="$HERE/stages/$name/val.parquet" \\
        data.format_prompt="$HERE/format_prompt.jinja" worker.reward.reward_function="$HERE/reward.py:compute_score" \\
        worker.actor.model.model_path="$MODEL" trainer.save_checkpoint_path="$out")
    local last
    last="$(ls -d "$out"/global_step_* | sort -V | tail -1)"  # version sort: global_step_10 after global_step_9
    (cd "$EASYR1_HOME" && "$PYTHON" scripts/model_merger.py --local_dir "$last/actor")
    echo "$last/actor/huggingface" > "$out/DONE"
  fi
  MODEL="$(cat "$out/DONE")"
}}

{calls}
echo "final model: $MODEL"
"""

EASYR1_LOSS_MODES = {"dapo": "token", "bnpo": "token", "grpo": "seq", "dr_grpo": "seq"}
"""TRL's losses that EasyR1's `worker.actor.loss_avg_mode` can express (token-mean or sequence-mean); TRL's others
(cispo, sapo, …) change the objective itself and are refused rather than exported as something else."""


def _check_exportable(recipe: Recipe) -> None:
    for s in recipe.stages:
        if not algorithm(s).exports:
            raise SeethinkError(
                f"stage {s.name!r} is {s.algorithm}: only GRPO stages export to EasyR1/verl "
                "(run SFT stages with `seethink train`, then export the rest)"
            )
        if s.rewards != recipe.stages[0].rewards or any(k not in REWARDS for k in s.rewards):
            raise SeethinkError(
                f"stage {s.name!r}: rewards {s.rewards}: the export writes one reward module of "
                "seethink's rewards for all stages (user reward functions, soft_overlong and per-stage "
                "weights are not exported); train it with `seethink train`"
            )
        if s.filter_groups:
            raise SeethinkError(
                f"stage {s.name!r}: filter_groups drops zero-variance groups; EasyR1's online_filtering drops groups "
                "by bounds on their mean score, another rule (export with filter_groups: 0 and set "
                "algorithm.online_filtering in EasyR1 yourself, or train it with `seethink train`)"
            )
        if s.loss_type not in EASYR1_LOSS_MODES:
            raise SeethinkError(
                f"stage {s.name!r}: loss_type {s.loss_type!r} has no EasyR1 equivalent (it has "
                f"{', '.join(EASYR1_LOSS_MODES)}); train it with `seethink train`"
            )


def _write_stage(tmp: Path, recipe: Recipe, k: int, root: Path, gpus: int, processor, val_limit: int) -> str:
    """Stage k's train/val parquet and EasyR1 config under tmp/stages/NAME; returns NAME."""
    s = recipe.stages[k]
    name = f"{k + 1}-{s.name}"
    stage_dir = tmp / "stages" / name
    stage_dir.mkdir(parents=True)
    prompts = rows_per_round(s, gpus)  # a recipe's batch sizes are per device
    records = stage_records(
        s,
        root,
        stage_rows(s, gpus),
        prompts,
        recipe.seed,
        processor,
        recipe.inputs.max_prompt_length if processor is not None else 0,
    )
    write_parquet(stage_dir / "train.parquet", engine_rows(records, "train"))
    val = [
        r
        for d in s.data
        for r in load_records(resolve(root, d.path), recipe.eval.split)[: recipe.eval.limit or val_limit]
    ]
    write_parquet(stage_dir / "val.parquet", engine_rows(val, recipe.eval.split))
    config = easyr1_config(
        recipe,
        k,
        gpus,
        prompts,
        f"stages/{name}",
        _prompt_bound(recipe, processor, records),
        max(len(r["images"]) for r in records),
    )
    write_text(
        stage_dir / "easyr1.yaml",
        f"# {ENGINE_NOTE}; the launch script fills in the paths\n" + yaml.safe_dump(config, sort_keys=False),
    )
    return name


def export_verl(
    recipe: Recipe, root: Path, out: str | Path, gpus: int = 8, val_limit: int = 256, model: str | Path | None = None
) -> Path:
    """Write the export folder (atomically: it appears complete or not at all). `model`: the first stage's starting
    model for the launch script (default: the recipe's `model` as a path; `seethink.resolve` maps `base`)."""
    _check_exportable(recipe)
    model = Path(model or recipe.model)
    check_not_input(
        out, [model, *(resolve(root, d.path) for s in recipe.stages for d in s.data)], "--out", replaced_whole=True
    )
    out = check_owned(out, ("launch_easyr1.sh",), "seethink export verl")  # replaced whole: never the user's folder
    processor = _processor(model, recipe)
    with atomic_dir(out) as tmp:
        names = [_write_stage(tmp, recipe, k, root, gpus, processor, val_limit) for k in range(len(recipe.stages))]
        write_text(tmp / "reward.py", reward_module(dict(recipe.stages[0].rewards)))
        write_text(tmp / "format_prompt.jinja", "{{ content | trim }}\n" + INSTRUCTION + "\n")
        write_text(tmp / "recipe.yaml", yaml.safe_dump(to_dict(recipe), sort_keys=False))
        calls = "\n".join(f"run_stage {shlex.quote(n)}" for n in names)
        launch = tmp / "launch_easyr1.sh"
        write_text(
            launch,
            LAUNCH.format(
                name=recipe.name.replace("\n", " "), n=len(names), model=shlex.quote(str(model.resolve())), calls=calls
            ),
        )
        launch.chmod(0o755)
    return out
