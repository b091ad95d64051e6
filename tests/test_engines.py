"""The sharded engines, for real, on CPU: two processes under the shipped DeepSpeed ZeRO-3 config (made a CPU
variant: 2 processes, gloo, fp32), through the same `seethink train`. DeepSpeed's CPU accelerator runs over gloo,
so what a GPU node does at a stage's end -- gather the full weights through the engine, write in-stage checkpoints
in the engine's own layout, resume from them, evaluate on every process -- runs here too.

FSDP through accelerate cannot run on CPU: accelerate 1.15 turns FSDP on only for accelerator devices (its
state.py sets DistributedType.FSDP for MULTI_GPU, NPU, XPU…, never MULTI_CPU), so a `use_cpu` launch of
configs/accelerate/fsdp.yaml silently runs DDP. FSDP2 itself runs over gloo: `test_fsdp2_*` below drive
seethink's FSDP pieces on a model sharded by torch's `fully_shard` directly.

What runs: one stage uninterrupted, and the same stage killed right after its step-2 checkpoint and
rerun. The resumed run must end on the uninterrupted run's weights (with a KL term, so the reference model must be
the stage's start, not the checkpoint), the checkpoint the library wrote must pass the damage check and fail it
when damaged, the start evaluation (uneven shards over the processes) must equal a one-process evaluation, and
`keep: best` (gathered snapshot, put back through the engine) must hand on what it scored.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from seethink.errors import SeethinkError
from seethink.models.checkpoints import checkpoint_problem, last_checkpoint, saved_processes
from seethink.recipe import RECIPES_DIR
from seethink.train.engines import Launch, check_launch, current_launch

ROOT = Path(__file__).resolve().parents[1]
STOP = Path(__file__).parent / "stop_after_save.py"
STAGE = "1-visual_reasoning"
pytest.importorskip("deepspeed")


# ---------------------------------------------------------------- the launch, read from the environment


def test_the_launch_is_read_from_what_accelerate_exports(tmp_path):
    assert current_launch({}) == Launch()
    z3 = {
        "WORLD_SIZE": "8",
        "ACCELERATE_USE_DEEPSPEED": "true",
        "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3",
        "ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL": "true",
    }
    assert current_launch(z3) == Launch(8, "zero3", True)
    assert current_launch({**z3, "ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL": "false"}).gather_16bit is False
    cfg = tmp_path / "ds.json"
    cfg.write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    assert current_launch({**z3, "ACCELERATE_DEEPSPEED_CONFIG_FILE": str(cfg)}).sharding == "zero2"
    assert current_launch({"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"}) == Launch(2, "fsdp")


def test_what_a_launch_cannot_run_is_one_line_before_training():
    with pytest.raises(SeethinkError, match="stage perception: LoRA under zero3 is not supported"):
        check_launch(Launch(8, "zero3"), ["perception"])
    with pytest.raises(SeethinkError, match="LoRA under fsdp"):
        check_launch(Launch(8, "fsdp"), ["perception"])
    with pytest.raises(SeethinkError, match="zero3_save_16bit_model"):
        check_launch(Launch(8, "zero3", gather_16bit=False), [])
    check_launch(Launch(8, "zero2"), ["perception"])  # LoRA on unsharded weights is fine
    check_launch(Launch(8, "zero3"), [])


# ---------------------------------------------------------------- real two-process runs


def cpu_config(name: str, out: Path) -> Path:
    """configs/accelerate/<name>.yaml as a 2-process CPU launch (everything else as shipped)."""
    cfg = yaml.safe_load((ROOT / "configs" / "accelerate" / f"{name}.yaml").read_text())
    cfg.update(num_processes=2, use_cpu=True, mixed_precision="no")
    cfg.pop("gpu_ids", None)
    path = out / f"cpu-{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def launch(config: Path, args: list[str], port: int, stop_at: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    entry = [str(STOP)] if stop_at else ["-m", "seethink"]
    if stop_at:
        env["SEETHINK_STOP_AT"] = str(stop_at)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(config),
            "--main_process_port",
            str(port),
            *entry,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def stage_args(world_dir, out: Path, name: str) -> list[str]:
    return [
        "train",
        str(RECIPES_DIR / "stage3-only.yaml"),
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={out}",
        "--set",
        f"name={name}",
        "--set",
        "eval.limit=12",
        "--set",
        "eval.batch_size=4",
        "--set",
        "eval.attribution=none",
        "--set",
        "eval.every=2",
        "--set",
        "eval.every_limit=6",
        "--set",
        "stages.0.keep=best:mean",
        "--set",
        "stages.0.steps=4",
        "--set",
        "stages.0.batch_size=8",
        "--set",
        "stages.0.micro_batch_size=4",
        "--set",
        "stages.0.num_generations=4",
        "--set",
        "stages.0.rollout_batch_size=8",
        "--set",
        "stages.0.beta=0.01",
        "--set",
        "stages.0.lr=1e-3",
    ]


def weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "stages" / STAGE / "checkpoint" / "model.safetensors"))


@pytest.mark.slow
def test_a_zero3_stage_saves_resumes_and_evaluates_like_one_process(world_dir, tmp_path):
    name = "zero3"
    config = cpu_config(name, tmp_path)
    port = 29610

    whole = launch(config, stage_args(world_dir, tmp_path, "whole"), port)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert "over 2 processes" in whole.stdout

    # killed right after the step-2 checkpoint, in the layout the engine itself wrote
    first = launch(config, stage_args(world_dir, tmp_path, "killed"), port + 1, stop_at=2)
    assert first.returncode != 0
    ckpt = tmp_path / "killed" / "stages" / STAGE / "work" / "checkpoint-2"
    assert checkpoint_problem(ckpt) is None
    assert saved_processes(ckpt) == 2
    assert {"latest", "global_step2"} <= {p.name for p in ckpt.iterdir()}
    _damage_is_found(ckpt, tmp_path)
    with pytest.raises(SeethinkError, match="written by 2 processes and this run has 1"):
        last_checkpoint(ckpt.parent, set_aside=False, processes=1)

    resumed = launch(config, stage_args(world_dir, tmp_path, "killed"), port + 1)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from checkpoint-2 (step 2)" in resumed.stdout
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6  # the KL reference is the stage's start

    _kept_what_it_scored(tmp_path / "whole")
    _sharded_evaluation_equals_one_process(tmp_path / "whole", world_dir)


def _damage_is_found(ckpt: Path, tmp_path: Path) -> None:
    copy = tmp_path / "damaged" / ckpt.name
    shutil.copytree(ckpt, copy)
    victim = next((copy / "global_step2").glob("*rank_1*optim_states.pt"))
    victim.write_bytes(victim.read_bytes()[:100])
    assert "truncated" in checkpoint_problem(copy)
    victim.unlink()
    assert "not of all 2 processes" in checkpoint_problem(copy)
    (copy / "latest").write_text("global_step9")
    assert "not there" in checkpoint_problem(copy)


def _kept_what_it_scored(run: Path) -> None:
    d = run / "stages" / STAGE
    val = [r for r in (json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()) if "val_mean" in r]
    assert [r["step"] for r in val] == [0, 2, 4]  # logged once, not once per process
    kept = json.loads((d / "checkpoint" / "seethink_stage.json").read_text())["kept"]
    assert kept["value"] == max(r["val_mean"] for r in val)


def _sharded_evaluation_equals_one_process(run: Path, world_dir) -> None:
    """The start evaluation ran on 2 processes (12 records per dataset in batches of 4: 2 batches on the first
    process, 1 on the second); the same evaluation in this one process gives the same rows."""
    from seethink.eval.evaluate import EvalOptions, evaluate_datasets
    from seethink.records.io import load_records
    from seethink.resolve import model_path

    two = [json.loads(x) for x in (run / "eval" / "start" / "samples.jsonl").read_text().splitlines()]
    datasets = {
        n: load_records(world_dir / n, "validation")[:12] for n in ("perception", "text_reasoning", "visual_reasoning")
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two processes ran (OMP_NUM_THREADS=1); put back for the tests after
    try:
        summary = evaluate_datasets(model_path("base"), datasets, run / "one", EvalOptions(batch_size=4))
    finally:
        torch.set_num_threads(threads)
    one = [json.loads(x) for x in (run / "one" / "samples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in two] == [r["id"] for r in one]
    assert [r["completion"] for r in two] == [r["completion"] for r in one]
    assert json.loads((run / "eval" / "start" / "summary.json").read_text())["processes"] == 2
    assert summary["capability"].keys() == {"perception", "text_reasoning", "visual_reasoning"}


@pytest.mark.slow
def test_fsdp2_pieces_on_a_model_sharded_by_torch(world_dir, tmp_path):
    """tests/fsdp2_probe.py on 2 processes: in-stage evaluation's `whole_model` (uneven shares, no collective inside,
    the unsharded model's answers, resharded after), `load_full_state_dict` (keep: best), and the damage check on a
    sharded state that torch.distributed.checkpoint wrote."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PROBE_OUT": str(tmp_path)}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29620",
            str(Path(__file__).parent / "fsdp2_probe.py"),
            str(world_dir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    for rank, n in ((0, 8), (1, 4)):
        r = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert len(r["plain"]) == n and r["sharded"] == r["plain"]
        assert r["resharded"] and r["loaded"]
        assert r["dcp_problem"] is None and r["shards"] == 2
    shard = next((tmp_path / "pytorch_model_fsdp_0").glob("*.distcp"))
    shard.write_bytes(b"")
    from seethink.models.checkpoints import _dcp_problem

    assert "missing or empty shards" in _dcp_problem(tmp_path / "pytorch_model_fsdp_0")
