"""Scale-out on existing engines: the shipped accelerate configs, the vLLM switch in recipes, and a real
2-process data-parallel run on CPU (torchrun + gloo) through the same `seethink train`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
