"""The memory plan (`seethink.train.memory`) against published figures, DeepSpeed's own estimators and the recipes
it plans; micro-batches in the TRL config."""

from pathlib import Path

import pytest
from conftest import seethink

from seethink.errors import SeethinkError
from seethink.recipe import RECIPES_DIR, load_recipe
from seethink.train.memory import GB, Shape, activations, model_shape, model_states, rollout_memory
from seethink.train.trl_config import trl_config

ARCH = Path(__file__).parent / "data" / "architectures"
PUBLISHED = {"qwen2.5-vl-3b": 3.75e9, "qwen2.5-vl-7b": 8.29e9, "qwen3-vl-8b": 8.77e9, "internvl3-8b": 7.94e9}


@pytest.fixture(scope="module")
def shapes():
    return {name: model_shape(ARCH / name) for name in PUBLISHED}


def test_parameter_counts_match_the_published_ones(shapes):
    for name, n in PUBLISHED.items():
        assert shapes[name].params == pytest.approx(n, rel=0.006), name
        assert 0.03 < shapes[name].vision_params / shapes[name].params < 0.2, name


def test_model_states_follow_deepspeeds_estimators(shapes):
    ds = pytest.importorskip("deepspeed")
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    del ds
    for shape in shapes.values():
        p, big = shape.params, shape.largest_layer
        _, z2 = estimate_zero2_model_states_mem_needs(p, 8, 1, cpu_offload=False)
        _, z3, _ = estimate_zero3_model_states_mem_needs(p, big, 8, 1, cpu_offload=False)
        assert sum(model_states(shape, p, "zero2", 8).values()) == pytest.approx(z2, rel=1e-9)
        assert sum(model_states(shape, p, "zero3", 8).values()) == pytest.approx(z3, rel=1e-9)


def test_known_footprints(shapes):
    q7 = shapes["qwen2.5-vl-7b"]
    # ZeRO-1 shards only the optimizer state: between ZeRO-2 and no sharding
    z1, z2, none = (sum(model_states(q7, q7.params, s, 8).values()) for s in ("zero1", "zero2", "none"))
    assert z2 < z1 < none
    # full fine-tuning with AdamW in mixed precision, one GPU: 16 bytes per parameter (the textbook figure)
    assert sum(model_states(q7, q7.params, "none", 1).values()) == 16 * q7.params
    # Qwen2.5-7B's KV cache: 28 layers x 2 x 4 KV heads x 128 x 2 bytes = 57,344 bytes per token
    per_token = rollout_memory(q7, 1, 1, 0, "transformers", 0, 0, "colocate", "none") - q7.vocab * 4
    assert per_token == 57344
    # a frozen vision tower trains nothing: fewer gradient and optimizer bytes, the same weights
    frozen = model_states(q7, q7.params - q7.vision_params, "zero3", 8)
    full = model_states(q7, q7.params, "zero3", 8)
    assert frozen["optimizer"] < full["optimizer"] and frozen["weights"] > full["weights"] - 1


def test_activations_scale_with_the_micro_batch_and_checkpointing_saves_most():
    shape = Shape(
        params=7_000_000_000,
        vision_params=0,
        largest_layer=0,
        hidden=3584,
        intermediate=18944,
        layers=28,
        kv_heads=4,
        head_dim=128,
        vocab=152064,
    )
    one, four = (activations(shape, m, 2048, 2048, True, 0) for m in (1, 4))
    assert four == pytest.approx(4 * one)
    assert activations(shape, 1, 2048, 2048, False, 0) > 5 * one
    assert 2 * GB < one < 12 * GB  # a 7B model, one 4k-token sequence, checkpointed: a few GB (logits dominate)


def _stage_args(k: int, m: int) -> list[str]:
    return ["--set", f"stages.{k}.micro_batch_size={m}"]


def test_the_dry_run_plans_every_gpu_recipe_and_refuses_one_that_cannot_fit(tmp_path):
    for name in PUBLISHED:
        recipe = RECIPES_DIR / "gpu" / f"{name}-staged.yaml"
        # colocated vLLM: one GRPO stage per launch (the plan covers every stage all the same)
        ok = seethink("train", recipe, "--dry-run", "--stage", "perception", "--set", f"model={ARCH / name}")
        assert "memory plan per GPU (8 GPU(s)" in ok.stdout and "does not fit" not in ok.stdout, name
        # the paper's batch as one pass (the recipes before micro-batches): out of memory at the first backward
        bad = seethink(
            "train",
            recipe,
            "--dry-run",
            "--stage",
            "perception",
            "--set",
            f"model={ARCH / name}",
            *[a for k in range(3) for a in _stage_args(k, 80)],
            check=False,
        )
        assert bad.returncode == 2, name
        assert bad.stderr.strip().splitlines() == [bad.stderr.strip().splitlines()[-1]]
        assert "stage perception: needs ~" in bad.stderr and "lower stages.0.micro_batch_size" in bad.stderr
    no_vllm = seethink(
        "train",
        RECIPES_DIR / "gpu" / "qwen2.5-vl-7b-staged.yaml",
        "--dry-run",
        "--set",
        f"model={ARCH / 'qwen2.5-vl-7b'}",
        "--set",
        "rollouts.engine=transformers",
        check=False,
    )
    assert "lower stages.0.rollout_batch_size or use rollouts.engine: vllm" in no_vllm.stderr


def test_micro_batches_map_onto_trl_without_changing_the_update(tmp_path):
    recipe = load_recipe(RECIPES_DIR / "gpu" / "qwen2.5-vl-7b-staged.yaml")
    cfg = trl_config(recipe.stages[0], recipe, tmp_path)
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, cfg.steps_per_generation) == (2, 40, 160)
    # completions per update and per rollout round, per device, as the paper's arithmetic says (80 and 320)
    assert cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps == 80
    assert cfg.per_device_train_batch_size * cfg.steps_per_generation == 320
    plain = load_recipe(RECIPES_DIR / "staged.yaml")
    cfg = trl_config(plain.stages[0], plain, tmp_path)
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (plain.stages[0].batch_size, 1)


@pytest.mark.parametrize(
    "value, msg", [(256, "is above batch_size=128"), (5, "does not divide batch_size=128"), (-1, "must be >= 0")]
)
def test_a_bad_micro_batch_is_one_line(value, msg):
    with pytest.raises(SeethinkError, match=msg):
        load_recipe(RECIPES_DIR / "staged.yaml", [f"stages.0.micro_batch_size={value}"])


def test_lora_with_sharded_weights_is_refused_at_load():
    with pytest.raises(SeethinkError, match="stages.0.lora.r: LoRA with hardware.sharding zero3 is not supported"):
        load_recipe(RECIPES_DIR / "staged.yaml", ["stages.0.lora.r=8", "hardware.sharding=zero3"])
