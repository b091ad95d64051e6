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


@pytest.mark.parametrize("name, expected", [
    ("ddp.yaml", {"ACCELERATE_MIXED_PRECISION": "bf16"}),
    ("zero2.yaml", {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}),
    ("zero3.yaml", {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3",
                    "ACCELERATE_DEEPSPEED_ZERO3_INIT": "true"}),
    ("fsdp.yaml", {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP"}),
])
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
    recipe = load_recipe(RECIPES_DIR / "staged.yaml", ["rollouts.engine=vllm", "rollouts.vllm_mode=server",
                                                        "rollouts.vllm_server_base_url=http://10.0.0.2:8000"])
    assert vllm_args(recipe.rollouts) == {"use_vllm": True, "vllm_mode": "server", "vllm_gpu_memory_utilization": 0.3,
                                          "vllm_tensor_parallel_size": 1, "vllm_server_base_url": "http://10.0.0.2:8000"}
    assert vllm_args(load_recipe(RECIPES_DIR / "staged.yaml").rollouts) == {}
    merged = load_recipe(RECIPES_DIR / "merged.yaml", ["rollouts.engine=vllm"])
    assert merged.rollouts.engine == "vllm"
    for override, msg in [("rollouts.engine=sglang", "rollouts.engine: must be one of"),
                          ("rollouts.vllm_gpu_memory_utilization=1.5", "must be in"),
                          ("rollouts.vllm_mode=remote", "rollouts.vllm_mode")]:
        with pytest.raises(SeethinkError, match=msg):
            load_recipe(RECIPES_DIR / "staged.yaml", [override])


def test_vllm_without_vllm_fails_before_training(world_dir, tmp_path):
    p = subprocess.run([sys.executable, "-m", "seethink", "train", "--set", f"data={world_dir}", "--set",
                        f"output_dir={tmp_path}", "--set", "rollouts.engine=vllm"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    assert "rollouts.engine vllm needs vLLM" in p.stderr
    assert not (tmp_path / "staged").exists()


@pytest.mark.slow
def test_two_process_data_parallel_run_on_cpu(world_dir, tmp_path):
    args = ["train", "--set", f"data={world_dir}", "--set", f"output_dir={tmp_path}", "--set", "name=ddp",
            "--set", "eval.limit=4", "--set", "eval.attribution=none"]
    for k in range(3):
        args += ["--set", f"stages.{k}.steps=2", "--set", f"stages.{k}.batch_size=8", "--set", f"stages.{k}.num_generations=4",
                 "--set", f"stages.{k}.rollout_batch_size=8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                        "-m", "seethink", *args], capture_output=True, text=True, timeout=900, env=env)
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


BASE_WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "seethink" / "miniature" / "assets" / "base" / "model.safetensors"


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["grpo", "sft"])
def test_two_processes_never_split_a_step_between_image_and_text_batches(algorithm, world_dir, tmp_path):
    """merged.yaml (perception, text and visual-reasoning records pooled, vision trainable) on 2 processes: a
    step whose one process held images and the other text only would leave the vision tower's gradients unused on
    one of them (DDP's reducer error or hang). seethink's layout rules it out by construction -- a step's rows
    across all processes come from one source (`seethink.train.data`) -- and this test proves it from the inputs
    each process's loss actually saw, for GRPO and for SFT: both processes agree at every step, steps of both
    kinds occur, the run finishes, and the vision tower moves."""
    from safetensors.torch import load_file

    from seethink.models.freeze import is_vision_param

    trace = tmp_path / "trace"
    trace.mkdir()
    batch = ["--set", "stages.0.batch_size=8", "--set", "stages.0.num_generations=4", "--set",
             "stages.0.rollout_batch_size=8"] if algorithm == "grpo" else \
        ["--set", "stages.0.algorithm=sft", "--set", "stages.0.batch_size=2", "--set", "stages.0.rollout_batch_size=0"]
    args = ["train", str(RECIPES_DIR / "merged.yaml"), "--set", f"data={world_dir}", "--set", f"output_dir={tmp_path}",
            "--set", "eval.limit=2", "--set", "eval.attribution=none", "--set", "stages.0.steps=8",
            "--set", "stages.0.lr=1e-3", *batch]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEETHINK_TRACE": str(trace)}
    port = "29534" if algorithm == "grpo" else "29535"
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
                        str(Path(__file__).parent / "ddp_trace.py"), *args], capture_output=True, text=True,
                       timeout=900, env=env)
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


@pytest.mark.slow
def test_two_processes_evaluate_inside_the_stage_and_keep_its_best(world_dir, tmp_path):
    """eval.every and keep: best on 2 processes: the main process evaluates, every process learns the verdict, the
    snapshot is gathered from both, and the checkpoint handed on scores what the kept step scored."""
    args = ["train", str(RECIPES_DIR / "stage3-only.yaml"), "--set", f"data={world_dir}", "--set",
            f"output_dir={tmp_path}", "--set", "eval.limit=4", "--set", "eval.every_limit=4", "--set", "eval.every=1",
            "--set", "eval.attribution=none", "--set", "stages.0.keep=best:mean", "--set", "stages.0.steps=3",
            "--set", "stages.0.lr=3e-3", "--set", "stages.0.warmup_ratio=0", "--set", "stages.0.batch_size=8",
            "--set", "stages.0.num_generations=4", "--set", "stages.0.rollout_batch_size=8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29536",
                        "-m", "seethink", *args], capture_output=True, text=True, timeout=900, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    d = tmp_path / "stage3-only" / "stages" / "1-visual_reasoning"
    val = [r for r in (json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()) if "val_mean" in r]
    assert [r["step"] for r in val] == [0, 1, 2, 3]  # logged once, not once per process
    kept = json.loads((d / "checkpoint" / "seethink_stage.json").read_text())["kept"]
    assert kept["value"] == max(r["val_mean"] for r in val)
    row = next(r for r in val if r["step"] == kept["step"])
    after = json.loads((d / "eval" / "summary.json").read_text())["capability"]
    assert {c: s["accuracy"] for c, s in after.items()} == {c: row[f"val_{c}"] for c in after}
