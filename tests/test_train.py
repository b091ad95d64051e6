"""The training engine through the real CLI: every shipped miniature recipe, vision freezing, resume."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import seethink, small_rounds
from safetensors.torch import load_file

from seethink.models.freeze import is_vision_param

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
MINIATURE = sorted(p for p in RECIPES.glob("*.yaml"))


def smoke_args(recipe: Path, world: Path, out: Path, steps: int = 2) -> list[str]:
    from seethink.recipe import load_recipe

    n = len(load_recipe(recipe).stages)
    args = [
        str(recipe),
        "--set",
        f"data={world}",
        "--set",
        f"output_dir={out}",
        "--set",
        "eval.limit=6",
        "--set",
        "eval.max_new_tokens=24",
        *small_rounds(recipe),
    ]
    for k in range(n):
        args += ["--set", f"stages.{k}.steps={steps}"]
    return args


def stage3_rows(world: Path, out: Path, steps: int, *sets: str) -> tuple[Path, list[dict]]:
    """Train stage3-only.yaml for `steps` with `--set` overrides, evaluated on visual reasoning only: the stage's
    folder and its metrics.jsonl rows."""
    args = smoke_args(RECIPES / "stage3-only.yaml", world, out, steps=steps)
    for s in (*sets, "eval.datasets=[visual_reasoning]", "eval.attribution=none"):
        args += ["--set", s]
    seethink("train", *args)
    stage = out / "stage3-only" / "stages" / "1-visual_reasoning"
    return stage, [json.loads(line) for line in (stage / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def scored_world(world_dir, tmp_path_factory):
    """A copy of the test world whose train splits carry pass rates, through `seethink passk`."""
    import shutil

    out = tmp_path_factory.mktemp("scored") / "world"
    shutil.copytree(world_dir, out)
    p = seethink("passk", "--data", out, "--split", "train", "--k", 2, "--max-new-tokens", 24, "--batch-size", 32)
    assert p.stdout.count("mean pass rate") == 3
    return out


def needs_pass_rates(recipe: Path) -> bool:
    from seethink.recipe import load_recipe

    r = load_recipe(recipe)
    return any(s.ordering == "difficulty" or s.drop_solved or s.drop_unsolved for s in r.stages)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", MINIATURE, ids=lambda p: p.stem)
def test_every_miniature_recipe_runs_end_to_end(recipe, world_dir, tmp_path, request):
    from seethink.recipe import load_recipe

    if needs_pass_rates(recipe):
        world_dir = request.getfixturevalue("scored_world")
    p = seethink("train", *smoke_args(recipe, world_dir, tmp_path))
    # one bar per stage with a short postfix, no dict of every logged value per step, no upstream deprecations
    assert "{'loss'" not in p.stdout + p.stderr
    assert "gradient_checkpointing" not in p.stderr
    r = load_recipe(recipe)
    run = tmp_path / r.name
    assert json.loads((run / "eval" / "start" / "summary.json").read_text())["capability"]
    for k, stage in enumerate(r.stages, 1):
        d = run / "stages" / f"{k}-{stage.name}"
        assert (d / "checkpoint" / "model.safetensors").is_file()
        assert not (d / "work").exists()  # in-stage checkpoints are removed once the stage is saved
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        assert [row["step"] for row in rows] == [1, 2]
        keys = (
            {"reward", "accuracy", "format", "completion_length", "entropy"} if stage.algorithm == "grpo" else {"loss"}
        )
        assert keys <= set(rows[0])
        if stage.algorithm == "grpo":  # a few rollouts kept for reading, with their score
            samples = [json.loads(line) for line in (d / "samples.jsonl").read_text().splitlines()]
            assert {s["step"] for s in samples} == {1, 2}
            assert all(s["completion"] is not None for s in samples)
            assert all(s["accuracy_reward"] in (0.0, 1.0) and s["answer"] for s in samples)
        summary = json.loads((d / "eval" / "summary.json").read_text())
        assert set(summary["capability"]) == {"perception", "text_reasoning", "visual_reasoning"}


def _weights(ckpt: Path) -> dict:
    return load_file(str(ckpt / "model.safetensors"))


@pytest.mark.slow
def test_vision_frozen_only_in_the_text_stage(world_dir, tmp_path):
    """staged.yaml: stage 2 (vision frozen) leaves every vision weight bit-identical, stage 3 changes them."""
    args = smoke_args(RECIPES / "staged.yaml", world_dir, tmp_path, steps=3)
    seethink("train", *args, "--set", "stages.1.data.0.path=visual_reasoning")  # images reach the frozen tower
    stages = tmp_path / "staged" / "stages"
    w1, w2, w3 = (
        _weights(stages / d / "checkpoint") for d in ("1-perception", "2-text_reasoning", "3-visual_reasoning")
    )
    vision = [k for k in w1 if is_vision_param(k)]
    text = [k for k in w1 if not is_vision_param(k)]
    assert vision
    assert text
    assert all(torch.equal(w1[k], w2[k]) for k in vision)
    assert any(not torch.equal(w1[k], w2[k]) for k in text)
    assert any(not torch.equal(w2[k], w3[k]) for k in vision)


@pytest.mark.slow
def test_kill_and_rerun_resumes_without_redoing_finished_stages(world_dir, tmp_path):
    args = smoke_args(RECIPES / "staged.yaml", world_dir, tmp_path, steps=6)
    cmd = [sys.executable, "-m", "seethink", "train", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = tmp_path / "staged" / "stages" / "1-perception" / "checkpoint" / "seethink_stage.json"
    deadline = time.time() + 600
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-run: after stage 1 was saved, somewhere in stage 2
    proc.wait()
    assert first.exists()
    before = (first.parent / "model.safetensors").read_bytes()
    p = seethink("train", *args)
    assert "stage 1 perception: already complete, skipped" in p.stdout
    assert (first.parent / "model.safetensors").read_bytes() == before
    assert (tmp_path / "staged" / "stages" / "3-visual_reasoning" / "checkpoint" / "seethink_stage.json").exists()
    leftovers = [p for p in (tmp_path / "staged").rglob("*.tmp")]
    assert not leftovers


def test_a_different_recipe_cannot_reuse_a_run_folder(world_dir, tmp_path):
    args = smoke_args(RECIPES / "stage3-only.yaml", world_dir, tmp_path, steps=1)
    seethink("train", *args)
    p = seethink("train", *args[:-1], "stages.0.steps=2", check=False)
    assert p.returncode == 2
    assert "holds a run of a different recipe" in p.stderr


@pytest.mark.parametrize(
    "extra,msg",
    [
        (["--set", "stages.0.stepz=1"], "stages.0.stepz: unknown key"),
        (["--set", "stages.0.batch_size=30"], "not divisible by num_generations"),
        (["--set", "data=/nonexistent"], "recipe data folder /nonexistent does not exist"),
        (["--set", "model=/nonexistent"], "model path /nonexistent does not exist"),
        (["--set", "stages.0.data.0.path=nope"], "stage visual_reasoning: data nope:"),
        (["--set", "eval.split=dev"], "eval: dataset perception:"),
    ],
)
def test_bad_recipes_fail_before_training(world_dir, tmp_path, extra, msg):
    args = smoke_args(RECIPES / "stage3-only.yaml", world_dir, tmp_path, steps=1)
    p = seethink("train", *args, *extra, check=False)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_tensorboard_events_are_kept_in_the_stage_folder(world_dir, tmp_path):
    recipe = RECIPES / "stage3-only.yaml"
    seethink("train", *smoke_args(recipe, world_dir, tmp_path), "--set", "report_to=tensorboard")
    (stage,) = (tmp_path / "stage3-only" / "stages").iterdir()
    events = list((stage / "tensorboard").rglob("events.out.tfevents.*"))
    assert events
    assert all(e.stat().st_size > 0 for e in events)
    assert not (stage / "work").exists()


@pytest.mark.slow
def test_report_from_a_run_folder(world_dir, tmp_path):
    from PIL import Image

    seethink("train", *smoke_args(RECIPES / "staged.yaml", world_dir, tmp_path / "runs"))
    p = seethink("report", tmp_path / "runs" / "staged", "--out", tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "report written" in p.stdout
    assert "| staged | perception → text_reasoning → visual_reasoning | 6 |" in md
    for name in ("curves.png", "accuracy.png", "lengths.png", "attribution.png"):
        assert f"]({name})" in md
        with Image.open(tmp_path / "report" / name) as im:
            assert im.size[0] > 400
            assert im.size[1] > 250


@pytest.mark.slow
def test_grpo_fits_a_fixed_set_of_prompts(world_dir, tmp_path):
    """The engine can learn: GRPO on the same 16 perception prompts over and over must fit them.

    Catches what silently stops RL from learning (rewards not reaching the loss, images paired with the
    wrong prompts, frozen weights, a zero learning rate) -- a run would otherwise just look flat."""
    (tmp_path / "fixed" / "perception").mkdir(parents=True)
    rows = [json.loads(line) for line in (world_dir / "perception" / "train.jsonl").read_text().splitlines()[:16]]
    for r in rows:
        r["images"] = [str(world_dir / "perception" / p) for p in r["images"]]
    (tmp_path / "fixed" / "perception" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "fixed.yaml"
    recipe.write_text(f"""name: fixed
data: {tmp_path / "fixed"}
output_dir: {tmp_path / "runs"}
eval: {{split: train, datasets: [perception], attribution: none}}
stages:
  - name: perception
    data: [{{path: perception}}]
    ordering: as_is
    steps: 25
    lr: 1.0e-4
    batch_size: 64
    num_generations: 8
    max_completion_length: 32
""")
    seethink("train", recipe)
    run = tmp_path / "runs" / "fixed"
    before = json.loads((run / "eval" / "start" / "summary.json").read_text())["capability"]["perception"]["accuracy"]
    after = json.loads((run / "stages" / "1-perception" / "eval" / "summary.json").read_text())
    assert after["capability"]["perception"]["accuracy"] >= before + 0.25, (before, after["capability"])


@pytest.mark.slow
@pytest.mark.parametrize("rollout,iterations", [(0, 1), (32, 2)])
def test_the_clip_acts_only_when_a_round_feeds_several_updates(world_dir, tmp_path, rollout, iterations):
    """One update per rollout round: the ratio is exactly 1 and nothing is clipped. Two minibatches per round,
    each used twice: later updates see a moved policy and the clip bounds them (at a large lr, some tokens)."""
    args = smoke_args(RECIPES / "stage3-only.yaml", world_dir, tmp_path, steps=8)
    args += [
        "--set",
        "stages.0.batch_size=16",
        "--set",
        f"stages.0.rollout_batch_size={rollout}",
        "--set",
        f"stages.0.num_iterations={iterations}",
        "--set",
        "stages.0.num_generations=4",
        "--set",
        "stages.0.lr=3e-3",
        "--set",
        "stages.0.epsilon=0.02",
        "--set",
        "stages.0.epsilon_high=0.02",
        "--set",
        "eval.datasets=[visual_reasoning]",
        "--set",
        "eval.attribution=none",
    ]
    seethink("train", *args)
    stage = tmp_path / "stage3-only" / "stages" / "1-visual_reasoning"
    rows = [json.loads(line) for line in (stage / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    clipped = [r["clip_fraction"] for r in rows]
    if iterations == 1:
        assert clipped == [0.0] * 8
    else:
        assert max(clipped) > 0
    assert json.loads((stage / "checkpoint" / "seethink_stage.json").read_text())["steps"] == 8


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["cispo", "sapo"])
def test_a_loss_only_trl_has_trains_a_stage(loss, world_dir, tmp_path):
    """`loss_type` takes any loss the installed TRL lists, not a copy of its list: TRL 1.16's CISPO and SAPO train."""
    stage, rows = stage3_rows(world_dir, tmp_path, 2, f"stages.0.loss_type={loss}")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["loss"]) for r in rows), rows
    assert json.loads((stage / "checkpoint" / "seethink_stage.json").read_text())["steps"] == 2


@pytest.mark.slow
def test_a_user_reward_file_trains_a_stage_and_is_logged(world_dir, tmp_path):
    """`rewards: {accuracy: 0.9, 'file.py:fn': w}`: TRL sums the weighted functions; metrics.jsonl keeps each."""
    (tmp_path / "my_rewards.py").write_text(
        "def has_box(completions, answer, **kwargs):\n"
        "    return [float('\\\\boxed{' in (c if isinstance(c, str) else c[-1]['content'])) for c in completions]\n"
    )
    rewards = f"{{accuracy: 0.9, '{tmp_path}/my_rewards.py:has_box': 0.5, soft_overlong: 0.2}}"
    _, rows = stage3_rows(world_dir, tmp_path / "runs", 2, f"stages.0.rewards={rewards}")
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert 0 <= r["reward_has_box"] <= 1 and "format" not in r, r  # no format reward in this stage
        overlong = r["reward_soft_overlong_punishment_reward"]  # TRL's name for its function
        assert -1 <= overlong <= 0, r
        assert r["reward"] == pytest.approx(
            0.9 * r["accuracy"] + 0.5 * r["reward_has_box"] + 0.2 * overlong, abs=1e-6
        ), r
    assert "has_box" in (tmp_path / "runs" / "stage3-only" / "recipe.yaml").read_text()
