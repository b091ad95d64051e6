"""`seethink export verl`: the parquet files load, the reward module scores real strings like seethink does,
and the launch script chains the stages through the merge step (run here against a fake EasyR1 that records
what it was asked to do)."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import pytest
import yaml

from seethink.errors import SeethinkError
from seethink.export.verl import export_verl
from seethink.miniature.base import base_path
from seethink.recipe import RECIPES_DIR, load_recipe, updates_per_round
from seethink.records.io import load_records
from seethink.rewards import REWARDS
from seethink.train.plan import rows_per_round


@pytest.fixture(scope="module")
def exported(world_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "staged"
    recipe = load_recipe(
        RECIPES_DIR / "staged.yaml",
        [f"data={world_dir}", "stages.0.steps=10", "stages.1.steps=2", "stages.2.steps=2", "eval.limit=5"],
    )
    export_verl(recipe, world_dir, out, gpus=2, model=base_path())  # the recipe's model: base, as the CLI resolves it
    return out, recipe


def test_parquet_rows_are_the_stage_schedule(exported, world_dir):
    out, recipe = exported
    for k, stage in enumerate(recipe.stages):
        d = out / "stages" / f"{k + 1}-{stage.name}"
        train = datasets.Dataset.from_parquet(str(d / "train.parquet"))
        prompts = stage.batch_size // stage.num_generations * 2  # two GPUs
        assert len(train) == stage.steps * prompts
        row = train[0]
        assert row["data_source"] == f"seethink/{stage.name}"
        assert row["reward_model"]["ground_truth"] == row["ground_truth"]
        assert row["prompt"][0]["content"].startswith(row["problem"])
        if stage.name == "text_reasoning":
            assert "images" not in train.column_names
            assert "<image>" not in row["problem"]
        else:
            assert row["problem"].startswith("<image>")
            assert row["images"][0].size == (64, 64)  # decodes as an image
            first = load_records(world_dir / stage.name, "train")  # the image bytes are the file's own
            assert train.cast_column("images", datasets.List(datasets.Image(decode=False)))[0]["images"][0][
                "bytes"
            ] in {open(p, "rb").read() for r in first for p in r["images"]}
        config = yaml.safe_load((d / "easyr1.yaml").read_text())
        rounds = stage.steps // updates_per_round(stage)  # EasyR1's steps are rollout rounds
        assert config["data"]["rollout_batch_size"] == rows_per_round(stage, processes=2)
        assert config["trainer"]["max_steps"] == rounds
        assert config["worker"]["actor"]["model"]["freeze_vision_tower"] == stage.freeze_vision
        assert config["worker"]["rollout"]["n"] == stage.num_generations
        assert config["data"]["shuffle"] is False
        assert (
            len(datasets.Dataset.from_parquet(str(d / "val.parquet"))) == 5
        )  # the stage's own validation split, eval.limit rows


def load_reward(out):
    """reward.py loaded as EasyR1 loads it (by path), with seethink made unimportable: it must stand alone."""
    import ast

    tree = ast.parse((out / "reward.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "json", "typing", "fractions", "math_verify"}, imported
    blocked = {name: None for name in list(sys.modules) if name == "seethink" or name.startswith("seethink.")}
    saved = {name: sys.modules[name] for name in blocked}
    sys.modules.update(blocked)  # `import seethink` now raises ImportError
    try:
        spec = importlib.util.spec_from_file_location("exported_reward", out / "reward.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.modules.update(saved)
    return module


SCHEMA = json.loads((Path(__file__).parent / "data" / "easyr1_config_fields.json").read_text())


def unknown_keys(config: dict, schema: dict, path: str = "") -> list[str]:
    """Keys of an exported config that EasyR1's config dataclasses do not have (OmegaConf would refuse them)."""
    bad = []
    for key, value in config.items():
        if key not in schema:
            bad.append(f"{path}{key}")
        elif isinstance(value, dict) and schema[key] is not None:
            bad += unknown_keys(value, schema[key], f"{path}{key}.")
    return bad


def test_configs_match_easyr1s_current_schema(exported):
    out, recipe = exported
    assert SCHEMA["commit"] and "reward_type" not in SCHEMA["schema"]["worker"]["reward"]  # removed in EasyR1 #558
    for k, stage in enumerate(recipe.stages):
        config = yaml.safe_load((out / "stages" / f"{k + 1}-{stage.name}" / "easyr1.yaml").read_text())
        assert unknown_keys(config, SCHEMA["schema"]) == []
        actor, rollout, data = config["worker"]["actor"], config["worker"]["rollout"], config["data"]
        assert actor["micro_batch_size_per_device_for_update"] == (stage.micro_batch_size or stage.batch_size)
        assert rollout["tensor_parallel_size"] == recipe.rollouts.vllm_tensor_parallel_size
        assert rollout["gpu_memory_utilization"] == recipe.rollouts.vllm_gpu_memory_utilization
        assert actor["offload"] == {"offload_params": True, "offload_optimizer": True}
        # the miniature's 64x64 images stay 64x64 (EasyR1's default floor of 512² would upscale them), and the
        # prompt bound is the longest prompt measured with the model's processor: EasyR1 drops no row
        assert (data["min_pixels"], data["max_pixels"], data["filter_overlong_prompts"]) == (None, None, False)
        assert 20 < data["max_prompt_length"] < 400
        assert rollout["max_model_len"] == data["max_prompt_length"] + stage.max_completion_length
    assert unknown_keys({"worker": {"reward": {"reward_type": "batch"}}}, SCHEMA["schema"]) == [
        "worker.reward.reward_type"
    ]


def test_reward_module_scores_like_seethink(exported):
    out, _ = exported
    reward = load_reward(out)
    mcq = json.dumps({"answer": "B", "options": ["red", "blue", "green", "white"]})
    cases = [
        ("<think>It is blue.</think>\\boxed{B}", mcq, 1.0),
        ("<think>It is blue.</think>\\boxed{blue}", mcq, 1.0),  # the option text counts like its letter
        ("\\boxed{B}", mcq, 0.9),  # no think block: accuracy only
        ("<think>x</think>\\boxed{A, B}", mcq, 0.1),  # several options named: wrong
        ("<think>3+4=7</think>\\boxed{7}", "7", 1.0),
        ("<think>half</think>\\boxed{\\frac{1}{2}}", "0.5", 1.0),
        ("<think>", "7", 0.0),
    ]
    scores = reward.compute_score([{"response": r, "response_length": 5, "ground_truth": g} for r, g, _ in cases])
    assert [round(s["overall"], 6) for s in scores] == [want for _, _, want in cases]
    for (r, g, want), s in zip(cases, scores):  # the same numbers seethink's own GRPO reward gives
        answer, options = (json.loads(g)["answer"], json.loads(g)["options"]) if g.startswith("{") else (g, None)
        ours = 0.9 * REWARDS["accuracy"]([r], [answer], [options])[0] + 0.1 * REWARDS["format"]([r])[0]
        assert abs(ours - s["overall"]) < 1e-9
        assert reward.compute_score_verl("seethink/perception", r, g)["score"] == s["overall"]


FAKE_MAIN = """
import json, os, sys
args = dict(a.split("=", 1) for a in sys.argv[1:])
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"train": args}) + "\\n")
import yaml
config = yaml.safe_load(open(args["config"]))
step = config["trainer"]["max_steps"]
for s in (step // 5, step):  # an earlier checkpoint too: the newest must be found by number, not by name
    os.makedirs(os.path.join(args["trainer.save_checkpoint_path"], f"global_step_{s}", "actor"), exist_ok=True)
if os.environ.get("FAKE_FAIL") and "2-" in args["config"]:
    sys.exit(3)
"""

FAKE_MERGER = """
import argparse, json, os
p = argparse.ArgumentParser(); p.add_argument("--local_dir"); a = p.parse_args()
os.makedirs(os.path.join(a.local_dir, "huggingface"), exist_ok=True)
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"merge": a.local_dir}) + "\\n")
"""


def fake_easyr1(tmp_path):
    home = tmp_path / "EasyR1"
    (home / "verl" / "trainer").mkdir(parents=True)
    (home / "scripts").mkdir()
    (home / "verl" / "__init__.py").write_text("")
    (home / "verl" / "trainer" / "__init__.py").write_text("")
    (home / "verl" / "trainer" / "main.py").write_text(textwrap.dedent(FAKE_MAIN))
    (home / "scripts" / "model_merger.py").write_text(textwrap.dedent(FAKE_MERGER))
    return home


def launch(out, home, log, **env):
    return subprocess.run(
        ["bash", str(out / "launch_easyr1.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "EASYR1_HOME": str(home),
            "FAKE_LOG": str(log),
            "PYTHON": sys.executable,
            "CHECKPOINTS": str(log.parent / "ckpt"),
            **env,
        },
    )


def test_launch_script_chains_stages_through_the_merge_step(exported, tmp_path):
    out, recipe = exported
    home, log = fake_easyr1(tmp_path), tmp_path / "log.jsonl"
    p = launch(out, home, log, FAKE_FAIL="1")
    assert p.returncode != 0  # stage 2 failed: the script stops there
    p = launch(out, home, log)
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    trains = [e["train"] for e in events if "train" in e]
    assert [t["config"].split("/")[-2] for t in trains] == [
        "1-perception",
        "2-text_reasoning",
        "2-text_reasoning",
        "3-visual_reasoning",
    ]  # stage 1 not redone
    assert trains[0]["worker.actor.model.model_path"] == str(base_path().resolve())  # the model passed in
    ckpt = tmp_path / "ckpt"
    assert trains[1]["worker.actor.model.model_path"] == f"{ckpt}/1-perception/global_step_5/actor/huggingface"
    assert trains[3]["worker.actor.model.model_path"] == f"{ckpt}/2-text_reasoning/global_step_1/actor/huggingface"
    assert trains[0]["worker.reward.reward_function"] == f"{out}/reward.py:compute_score"
    assert [e["merge"].split("/")[-3] for e in events if "merge" in e] == [
        "1-perception",
        "2-text_reasoning",
        "3-visual_reasoning",
    ]
    assert p.stdout.strip().endswith(f"final model: {ckpt}/3-visual_reasoning/global_step_1/actor/huggingface")


def test_sft_stages_do_not_export(world_dir, tmp_path):
    recipe = load_recipe(RECIPES_DIR / "sft-perception.yaml", [f"data={world_dir}"])
    with pytest.raises(SeethinkError, match="only GRPO stages export"):
        export_verl(recipe, world_dir, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_online_group_filtering_does_not_export_as_easyr1s_other_rule(world_dir, tmp_path):
    recipe = load_recipe(RECIPES_DIR / "staged.yaml", [f"data={world_dir}", "stages.2.filter_groups=2"])
    with pytest.raises(SeethinkError, match="stage 'visual_reasoning': filter_groups drops zero-variance groups"):
        export_verl(recipe, world_dir, tmp_path / "x", gpus=1, model=base_path())
    assert not (tmp_path / "x").exists()


def test_a_loss_easyr1_cannot_express_does_not_export(world_dir, tmp_path):
    """EasyR1 averages a token-level or sequence-level PPO loss; TRL's CISPO would be exported as something else."""
    recipe = load_recipe(RECIPES_DIR / "staged.yaml", [f"data={world_dir}", "stages.1.loss_type=cispo"])
    with pytest.raises(SeethinkError, match="stage 'text_reasoning': loss_type 'cispo' has no EasyR1 equivalent"):
        export_verl(recipe, world_dir, tmp_path / "x", gpus=1, model=base_path())
    assert not (tmp_path / "x").exists()
    recipe = load_recipe(RECIPES_DIR / "staged.yaml", [f"data={world_dir}", "stages.0.rewards={'json:loads': 1.0}"])
    with pytest.raises(
        SeethinkError,
        match="stage .perception.: rewards .*user reward functions, soft_overlong "
        "and per-stage weights are not exported",
    ):
        export_verl(recipe, world_dir, tmp_path / "x", gpus=1, model=base_path())
    assert not (tmp_path / "x").exists()


def test_gpu_recipes_export_from_the_cli(world_dir, tmp_path):
    for name in ("perception", "text_reasoning", "visual_reasoning"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for split in ("train", "validation"):
            src = world_dir / name / f"{split}.jsonl"
            rows = [json.loads(line) for line in src.read_text().splitlines()[:40]]
            for r in rows:
                r["images"] = [str((src.parent / p).resolve()) for p in r["images"]]
            (tmp_path / "data" / name / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "seethink",
            "export",
            "verl",
            RECIPES_DIR / "gpu" / "qwen2.5-vl-3b-staged.yaml",
            "--out",
            tmp_path / "x",
            "--set",
            f"data={tmp_path / 'data'}",
            "--set",
            "stages.0.steps=4",
            "--set",
            "stages.1.steps=4",
            "--set",
            "stages.2.steps=4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    config = yaml.safe_load((tmp_path / "x" / "stages" / "1-perception" / "easyr1.yaml").read_text())
    # 320 completions per device x 8 GPUs / group 5 = the paper's 512 prompts per round, updated 128 at a time
    assert config["data"]["rollout_batch_size"] == 512
    assert config["worker"]["actor"]["global_batch_size"] == 128
    assert config["trainer"]["max_steps"] == 1
    assert config["worker"]["actor"]["ppo_epochs"] == 1  # 4 updates = 1 round
    assert config["algorithm"]["kl_coef"] == 0.01
    assert config["worker"]["actor"]["optim"]["lr"] == 1e-6
    assert config["data"]["max_response_length"] == 2048
    # the paper's bounds from the recipe: EasyR1 applies them, and with a remote model id the prompts are not
    # measured here, so a longer one stops EasyR1 rather than being dropped
    assert (config["data"]["min_pixels"], config["data"]["max_pixels"]) == (262144, 4194304)
    assert (config["data"]["max_prompt_length"], config["data"]["filter_overlong_prompts"]) == (2048, False)
    assert unknown_keys(config, SCHEMA["schema"]) == []


def test_the_launch_script_never_runs_a_path_as_code(world_dir, tmp_path):
    """A model path and an output folder holding `$(…)`, quotes and spaces reach EasyR1 as they are."""
    hostile = tmp_path / "it's a $(touch pwned) model"
    hostile.mkdir()
    out = tmp_path / "out $(touch pwned2)" / "x"
    recipe = load_recipe(
        RECIPES_DIR / "stage3-only.yaml", [f"data={world_dir}", "stages.0.steps=2", "inputs.max_prompt_length=512"]
    )  # an empty model folder
    export_verl(recipe, world_dir, out, gpus=1, model=hostile)
    home, log = fake_easyr1(tmp_path), tmp_path / "log.jsonl"
    p = launch(out, home, log)
    assert p.returncode == 0, p.stderr
    train = [json.loads(line)["train"] for line in log.read_text().splitlines() if "train" in line][0]
    assert train["worker.actor.model.model_path"] == str(hostile)
    assert not list(tmp_path.rglob("pwned*"))
    assert not list(Path.cwd().glob("pwned*"))


def test_no_prompt_bound_and_nothing_to_measure_with_is_refused(world_dir, tmp_path):
    recipe = load_recipe(RECIPES_DIR / "stage3-only.yaml", [f"data={world_dir}", "stages.0.steps=2"])
    with pytest.raises(SeethinkError, match="inputs.max_prompt_length: the recipe sets no prompt bound"):
        export_verl(recipe, world_dir, tmp_path / "x", gpus=1, model="Qwen/Qwen2.5-VL-7B-Instruct")
    assert not (tmp_path / "x").exists()
