"""Scale-out on existing engines: the shipped accelerate configs, the vLLM switch in recipes, and a real
2-process data-parallel run on CPU (torchrun + gloo) through the same `seethink train`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seethink.errors import SeethinkError
from seethink.recipe import RECIPES_DIR, load_recipe
from seethink.train.trl_config import vllm_args

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ddp.yaml", {"ACCELERATE_MIXED_PRECISION": "bf16"}),
        ("zero2.yaml", {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}),
        (
            "zero3.yaml",
            {
                "ACCELERATE_USE_DEEPSPEED": "true",
                "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3",
                "ACCELERATE_DEEPSPEED_ZERO3_INIT": "true",
            },
        ),
        (
            "fsdp.yaml",
            {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP"},
        ),
    ],
)
def test_accelerate_configs_resolve_to_a_launch_environment(name, expected):
    """What `accelerate launch --config_file …` would export to the 8 training processes (accelerate's own
    parsing and validation; nothing is launched: no GPUs here)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / name), "-m", "seethink", "train"])
    args, _, _ = _validate_launch_command(args)
    assert args.num_processes == 8
    assert args.mixed_precision == "bf16"
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ""
        _, env = prepare_deepspeed_cmd_env(args)
    else:
        env = prepare_multi_gpu_env(args)
    assert {k: env.get(k) for k in expected} == expected


def test_vllm_rollouts_are_a_recipe_switch():
    bound = "inputs.max_prompt_length=2048"
    server = load_recipe(
        RECIPES_DIR / "staged.yaml",
        [
            "rollouts.engine=vllm",
            "rollouts.vllm_mode=server",
            bound,
            "rollouts.vllm_server_base_url=http://10.0.0.2:8000",
        ],
    )
    # server mode: the server holds the GPUs and limits it was started with; the trainers only connect to it
    assert vllm_args(server.rollouts, server.stages[0], 2048) == {
        "use_vllm": True,
        "vllm_mode": "server",
        "vllm_server_base_url": "http://10.0.0.2:8000",
    }
    colocate = load_recipe(
        RECIPES_DIR / "staged.yaml", ["rollouts.engine=vllm", bound, "stages.1.max_completion_length=1024"]
    )
    args = vllm_args(colocate.rollouts, colocate.stages[1], colocate.inputs.max_prompt_length)
    assert args == {
        "use_vllm": True,
        "vllm_mode": "colocate",
        "vllm_server_base_url": None,
        "vllm_gpu_memory_utilization": 0.3,
        "vllm_tensor_parallel_size": 1,
        "vllm_enable_sleep_mode": True,
        "vllm_max_model_length": 2048 + 1024,
    }
    fixed = load_recipe(
        RECIPES_DIR / "staged.yaml",
        ["rollouts.engine=vllm", "rollouts.vllm_max_model_len=8192", "rollouts.vllm_sleep=false"],
    )
    assert vllm_args(fixed.rollouts, fixed.stages[0], 0)["vllm_max_model_length"] == 8192
    assert vllm_args(fixed.rollouts, fixed.stages[0], 0)["vllm_enable_sleep_mode"] is False
    assert vllm_args(load_recipe(RECIPES_DIR / "staged.yaml").rollouts, colocate.stages[0], 2048) == {}
    merged = load_recipe(RECIPES_DIR / "merged.yaml", ["rollouts.engine=vllm", bound])
    assert merged.rollouts.engine == "vllm"
    for override, msg in [
        ("rollouts.engine=sglang", "rollouts.engine: must be one of"),
        ("rollouts.vllm_gpu_memory_utilization=1.5", "must be in"),
        ("rollouts.vllm_mode=remote", "rollouts.vllm_mode"),
        ("rollouts.engine=vllm", "inputs.max_prompt_length: rollouts.engine vllm sizes its KV cache"),
    ]:
        with pytest.raises(SeethinkError, match=msg):
            load_recipe(RECIPES_DIR / "staged.yaml", [override])


@pytest.mark.parametrize("mode", ["colocate", "server"])
def test_a_fitting_vllm_is_the_pins_and_trls_own_range(mode):
    """The `[vllm]` extra's pin sits inside the vLLM range the pinned TRL declares, read from TRL's metadata."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    from seethink.models.vllm_support import _requirement

    extra = tomllib.loads((CONFIGS.parents[1] / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "vllm"
    ]
    pin = next(Requirement(r) for r in extra if Requirement(r).name == "vllm")
    (version,) = [str(s.version) for s in pin.specifier]
    trl_range = _requirement("trl", "vllm", extra="vllm")
    assert trl_range is not None and trl_range.specifier.contains(version), (version, trl_range)
    assert metadata.version("trl") == "1.16.0"


def test_an_incompatible_installed_vllm_is_named_in_one_line(monkeypatch):
    from seethink.models import vllm_support

    fake = {
        "trl": ("1.16.0", ['vllm<=0.31.0,>=0.22.0; extra == "vllm"']),
        "transformers": ("5.23.0", []),
        "torch": ("2.13.0+cpu", []),
        "vllm": ("0.31.0", ["transformers<5.18,>=4.56.0", "torch==2.13.0"]),
    }
    monkeypatch.setattr(vllm_support.metadata, "version", lambda n: fake[n][0])
    monkeypatch.setattr(vllm_support.metadata, "requires", lambda n: fake[n][1])
    assert vllm_support.vllm_problem() == (
        "vllm 0.31.0 needs transformers<5.18,>=4.56.0, but transformers 5.23.0 is "
        'installed (pip install -e ".[vllm]" installs the version set that fits)'
    )
    fake["vllm"] = ("0.33.1", [])
    assert "TRL 1.16.0 supports vllm<=0.31.0,>=0.22.0" in vllm_support.vllm_problem()
    fake["vllm"] = ("0.30.0", ["transformers>=5.10.4", "torch==2.13.0"])
    assert vllm_support.vllm_problem() is None
    with pytest.raises(SeethinkError, match="rollouts.engine vllm: vLLM is not installed"):
        monkeypatch.setattr(
            vllm_support.metadata,
            "version",
            lambda n: (_ for _ in ()).throw(vllm_support.metadata.PackageNotFoundError(n)),
        )
        vllm_support.check_vllm("rollouts.engine vllm")


def _train(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "seethink", "train", *args], capture_output=True, text=True, timeout=timeout
    )


def test_colocated_vllm_runs_one_grpo_stage_per_launch(world_dir, tmp_path):
    """TRL's colocated engine cannot be torn down inside a process: a launch that would train two GRPO stages
    with it is refused before anything runs (also by --dry-run), and --stage picks the one this launch trains."""
    sets = [
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "rollouts.engine=vllm",
        "--set",
        "inputs.max_prompt_length=512",
    ]
    for extra in ([], ["--dry-run"]):
        p = _train(*sets, *extra)
        assert p.returncode == 2, p.stderr
        assert p.stderr.strip().splitlines()[-1] == (
            "seethink: error: rollouts: colocated vLLM runs one GRPO stage per process, and 3 are left (perception, "
            "text_reasoning, visual_reasoning): run them one launch each, --stage perception first, then --stage for "
            "the next (finished stages are skipped), or use vllm_mode: server"
        )
    assert _train(*sets, "--dry-run", "--stage", "perception").returncode == 0
    p = _train(*sets, "--stage", "nope")
    assert p.returncode == 2 and "--stage nope: the recipe has no such stage" in p.stderr
    p = _train(*sets, "--stage", "perception")  # passes the engine rule; this machine has no vLLM
    assert p.returncode == 2
    assert "rollouts.engine vllm: vLLM is not installed" in p.stderr
    assert not (tmp_path / "staged").exists()
    assert _train(*sets, "--set", "rollouts.vllm_mode=server", "--dry-run").returncode == 0


@pytest.mark.slow
def test_stage_flag_stops_after_the_stage_and_the_next_launch_goes_on(world_dir, tmp_path):
    sets = [
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "eval.limit=4",
        "--set",
        "eval.attribution=none",
    ]
    for k in range(3):
        sets += [
            "--set",
            f"stages.{k}.steps=1",
            "--set",
            f"stages.{k}.batch_size=4",
            "--set",
            f"stages.{k}.num_generations=4",
            "--set",
            f"stages.{k}.rollout_batch_size=4",
        ]
    p = _train(*sets, "--stage", "perception", timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "stopped after stage 1 perception (--stage)" in p.stdout
    stages = tmp_path / "staged" / "stages"
    assert sorted(d.name for d in stages.iterdir()) == ["1-perception"]
    p = _train(*sets, "--stage", "text_reasoning", timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "stage 1 perception: already complete, skipped" in p.stdout
    assert sorted(d.name for d in stages.iterdir()) == ["1-perception", "2-text_reasoning"]
    assert (stages / "2-text_reasoning" / "eval" / "summary.json").is_file()


@pytest.mark.slow
def test_two_process_data_parallel_run_on_cpu(world_dir, tmp_path):
    args = [
        "train",
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "name=ddp",
        "--set",
        "eval.limit=4",
        "--set",
        "eval.attribution=none",
    ]
    for k in range(3):
        args += [
            "--set",
            f"stages.{k}.steps=2",
            "--set",
            f"stages.{k}.batch_size=8",
            "--set",
            f"stages.{k}.num_generations=4",
            "--set",
            f"stages.{k}.rollout_batch_size=8",
        ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            "-m",
            "seethink",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.count("done:") == 1
    assert "over 2 processes" in p.stdout  # one process reports
    run = tmp_path / "ddp"
    for stage in ("1-perception", "2-text_reasoning", "3-visual_reasoning"):
        d = run / "stages" / stage
        assert json.loads((d / "checkpoint" / "seethink_stage.json").read_text())["steps"] == 2
        rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
        assert [row["step"] for row in rows] == [1, 2]
        # each step consumed both processes' prompts: 2 steps x 2 processes x 2 prompts = exactly one pass, not two
        assert rows[-1]["epoch"] == pytest.approx(1.0)
        assert (d / "eval" / "summary.json").is_file()
        assert not (d / "work").exists()
    assert not list(tmp_path.rglob("*.tmp"))


BASE_WEIGHTS = (
    Path(__file__).resolve().parents[1] / "src" / "seethink" / "miniature" / "assets" / "base" / "model.safetensors"
)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["grpo", "grpo-filtered", "sft"])
def test_two_processes_never_split_a_step_between_image_and_text_batches(algorithm, world_dir, tmp_path):
    """merged.yaml (perception, text and visual-reasoning records pooled, vision trainable) on 2 processes: a
    step whose one process held images and the other text only would leave the vision tower's gradients unused on
    one of them (DDP's reducer error or hang). seethink's layout rules it out by construction -- a step's rows
    across all processes come from one source (`seethink.train.data`) -- and this test proves it from the inputs
    each process's loss actually saw, for GRPO, for GRPO with online group filtering (its extra draws, agreed on
    by both processes through one gather, keep the step's kind) and for SFT: both processes agree at every step,
    steps of both kinds occur, the run finishes, and the vision tower moves."""
    from safetensors.torch import load_file

    from seethink.models.freeze import is_vision_param

    trace = tmp_path / "trace"
    trace.mkdir()
    batch = (
        [
            "--set",
            "stages.0.batch_size=8",
            "--set",
            "stages.0.num_generations=4",
            "--set",
            "stages.0.rollout_batch_size=8",
        ]
        if algorithm.startswith("grpo")
        else [
            "--set",
            "stages.0.algorithm=sft",
            "--set",
            "stages.0.batch_size=2",
            "--set",
            "stages.0.rollout_batch_size=0",
        ]
    )
    args = [
        "train",
        str(RECIPES_DIR / "merged.yaml"),
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "eval.limit=2",
        "--set",
        "eval.attribution=none",
        "--set",
        "stages.0.steps=8",
        "--set",
        "stages.0.lr=1e-3",
        *batch,
    ]
    if algorithm == "grpo-filtered":
        from test_group_filter import _half_reward

        args += ["--set", f"stages.0.rewards={{'{_half_reward(tmp_path)}': 1.0}}", "--set", "stages.0.filter_groups=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEETHINK_TRACE": str(trace)}
    port = {"grpo": "29534", "sft": "29535"}.get(algorithm, "29537")
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            port,
            str(Path(__file__).parent / "ddp_trace.py"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [json.loads(x) for r in (0, 1) for x in (trace / f"rank{r}.jsonl").read_text().splitlines()]
    by_step: dict[int, set] = {}
    for row in rows:
        by_step.setdefault(row["step"], set()).add((row["rank"], row["images"]))
    assert sorted(by_step) == list(range(8))
    for step, seen in by_step.items():
        assert {rank for rank, _ in seen} == {0, 1}, (step, seen)  # both processes trained at every step
        assert len({images for _, images in seen}) == 1, f"step {step} mixed image and text batches: {seen}"
    kinds = [next(iter(seen))[1] for _, seen in sorted(by_step.items())]
    assert True in kinds and False in kinds  # the pooled data did put image and text steps side by side
    ckpt = tmp_path / "merged" / "stages" / "1-merged" / "checkpoint"
    before, after = load_file(str(BASE_WEIGHTS)), load_file(str(ckpt / "model.safetensors"))
    vision = [k for k in before if is_vision_param(k)]
    assert sum(not torch.equal(before[k], after[k]) for k in vision) >= len(vision) // 2
    if algorithm == "grpo-filtered":
        metrics = [json.loads(x) for x in (ckpt.parent / "metrics.jsonl").read_text().splitlines()]
        assert sum(m["filter_extra_rounds"] for m in metrics) > 0, metrics  # the extra draws did happen


@pytest.mark.slow
def test_two_processes_evaluate_inside_the_stage_and_keep_its_best(world_dir, tmp_path):
    """eval.every and keep: best on 2 processes: the main process evaluates, every process learns the verdict, the
    snapshot is gathered from both, and the checkpoint handed on scores what the kept step scored."""
    args = [
        "train",
        str(RECIPES_DIR / "stage3-only.yaml"),
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "eval.limit=4",
        "--set",
        "eval.every_limit=4",
        "--set",
        "eval.every=1",
        "--set",
        "eval.attribution=none",
        "--set",
        "stages.0.keep=best:mean",
        "--set",
        "stages.0.steps=3",
        "--set",
        "stages.0.lr=3e-3",
        "--set",
        "stages.0.warmup_ratio=0",
        "--set",
        "stages.0.batch_size=8",
        "--set",
        "stages.0.num_generations=4",
        "--set",
        "stages.0.rollout_batch_size=8",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29536",
            "-m",
            "seethink",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    d = tmp_path / "stage3-only" / "stages" / "1-visual_reasoning"
    val = [r for r in (json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()) if "val_mean" in r]
    assert [r["step"] for r in val] == [0, 1, 2, 3]  # logged once, not once per process
    kept = json.loads((d / "checkpoint" / "seethink_stage.json").read_text())["kept"]
    assert kept["value"] == max(r["val_mean"] for r in val)
    row = next(r for r in val if r["step"] == kept["step"])
    after = json.loads((d / "eval" / "summary.json").read_text())["capability"]
    assert {c: s["accuracy"] for c, s in after.items()} == {c: row[f"val_{c}"] for c in after}
