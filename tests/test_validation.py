"""Held-out evaluation inside a stage (`eval.every`) and the checkpoint a stage keeps (`stages.k.keep`)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import seethink
from safetensors.torch import load_file
from test_train import RECIPES, smoke_args

STAGE = "1-visual_reasoning"


def run_args(world: Path, out: Path, steps: int, *extra: str) -> list[str]:
    """stage3-only from the shipped base, rounds of 4 prompts, a high lr so that held-out accuracy moves."""
    return [
        *smoke_args(RECIPES / "stage3-only.yaml", world, out, steps=steps),
        "--set",
        "stages.0.lr=3e-4",
        "--set",
        "stages.0.warmup_ratio=0",
        *extra,
    ]


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "stages" / STAGE / "metrics.jsonl").read_text().splitlines()]


def weights(run: Path) -> dict:
    return load_file(str(run / "stages" / STAGE / "checkpoint" / "model.safetensors"))


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


@pytest.mark.slow
def test_in_stage_evaluations_are_logged_drawn_and_leave_training_as_it_was(world_dir, tmp_path):
    on, off = tmp_path / "on", tmp_path / "off"
    seethink(
        "train",
        *run_args(
            world_dir, on, 3, "--set", "eval.every=2", "--set", "eval.every_limit=5", "--set", "report_to=tensorboard"
        ),
    )
    seethink("train", *run_args(world_dir, off, 3))
    assert same(weights(on / "stage3-only"), weights(off / "stage3-only"))  # RNG, mode, padding side restored
    val = [r for r in rows(on / "stage3-only") if "val_mean" in r]
    assert [r["step"] for r in val] == [0, 2, 3]  # the start, every 2 steps and the last one
    for r in val:
        caps = [r[f"val_{c}"] for c in ("perception", "text_reasoning", "visual_reasoning")]
        assert r["val_mean"] == pytest.approx(sum(caps) / 3)
        assert all(0 <= c <= 1 and c * 5 == pytest.approx(round(c * 5)) for c in caps)  # 5 records each
    assert not [r for r in rows(off / "stage3-only") if "val_mean" in r]
    events = list((on / "stage3-only" / "stages" / STAGE / "tensorboard").rglob("events.out.tfevents.*"))
    assert any(b"val_mean" in e.read_bytes() for e in events)
    seethink("report", on / "stage3-only", "--out", tmp_path / "report")
    assert "](validation.png)" in (tmp_path / "report" / "report.md").read_text()
    assert (tmp_path / "report" / "validation.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("lora", [0, 8], ids=["full", "lora"])
def test_keep_best_hands_on_the_weights_of_the_best_evaluated_step(world_dir, tmp_path, lora):
    # a high lr: the stage soon damages what the base knows, so the best step is not the last one
    best_args = (
        "--set",
        "eval.every=1",
        "--set",
        "eval.every_limit=8",
        "--set",
        "eval.limit=8",
        "--set",
        "stages.0.keep=best:mean",
        "--set",
        f"stages.0.lr={3e-2 if lora else 3e-3}",
        "--set",
        f"stages.0.lora.r={lora}",
    )
    seethink("train", *run_args(world_dir, tmp_path / "a", 4, *best_args))
    run = tmp_path / "a" / "stage3-only"
    val = [r for r in rows(run) if "val_mean" in r]
    assert [r["step"] for r in val] == [0, 1, 2, 3, 4]
    top = max(r["val_mean"] for r in val)
    step = next(r["step"] for r in val if r["val_mean"] == top)  # the first of equals
    note = json.loads((run / "stages" / STAGE / "checkpoint" / "seethink_stage.json").read_text())
    assert note["kept"] == {"step": step, "metric": "mean", "value": pytest.approx(top)}
    assert note["steps"] == 4
    assert step < 4, val  # otherwise the comparison below would not tell the kept weights from the last ones
    assert yaml.safe_load((run / "recipe.yaml").read_text())["kept"] == {"visual_reasoning": note["kept"]}
    # the checkpoint handed on is the kept step's: the stage's own evaluation of it, on the same records,
    # scores what the in-stage evaluation of that step scored (and not what the last step scored)
    assert val[-1]["val_mean"] != top
    after = json.loads((run / "stages" / STAGE / "eval" / "summary.json").read_text())["capability"]
    kept_row = next(r for r in val if r["step"] == step)
    assert {c: s["accuracy"] for c, s in after.items()} == {c: kept_row[f"val_{c}"] for c in after}
    # the rerun of the same command is a finished run, not a different recipe (recipe.yaml gained `kept`)
    assert "already complete" in seethink("train", *run_args(world_dir, tmp_path / "a", 4, *best_args)).stdout


@pytest.mark.slow
def test_a_killed_stage_that_keeps_its_best_resumes_to_the_same_result(world_dir, tmp_path):
    args = ("--set", "eval.every=2", "--set", "eval.every_limit=6", "--set", "stages.0.keep=best:visual_reasoning")
    seethink("train", *run_args(world_dir, tmp_path / "whole", 8, *args))
    cmd = [sys.executable, "-m", "seethink", "train", *run_args(world_dir, tmp_path / "cut", 8, *args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    work = tmp_path / "cut" / "stage3-only" / "stages" / STAGE / "work"
    deadline = time.time() + 600
    while (
        time.time() < deadline and proc.poll() is None and not (work / "checkpoint-4" / "trainer_state.json").exists()
    ):
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (work / "best" / "best.json").exists()
    seethink("train", *run_args(world_dir, tmp_path / "cut", 8, *args))
    whole, cut = tmp_path / "whole" / "stage3-only", tmp_path / "cut" / "stage3-only"
    assert same(weights(whole), weights(cut))
    assert [r for r in rows(whole) if "val_mean" in r] == [r for r in rows(cut) if "val_mean" in r]
    kept = json.loads((cut / "stages" / STAGE / "checkpoint" / "seethink_stage.json").read_text())["kept"]
    assert kept["metric"] == "visual_reasoning"


@pytest.mark.parametrize(
    "extra,msg",
    [
        (
            ["--set", "stages.0.keep=best:mean"],
            "stages.0.keep: best:mean picks among in-stage evaluations; set eval.every",
        ),
        (
            ["--set", "stages.0.keep=best:speed", "--set", "eval.every=2"],
            "stages.0.keep: must be last or best:<metric>",
        ),
        (["--set", "eval.every=-1"], "eval.every: must be >= 0"),
        (["--set", "eval.every=2", "--set", "eval.every_split=dev"], "eval: dataset perception:"),
    ],
)
def test_bad_in_stage_evaluation_settings_fail_before_training(world_dir, tmp_path, extra, msg):
    p = seethink("train", *run_args(world_dir, tmp_path, 1), *extra, check=False)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr
    assert "Traceback" not in p.stderr
