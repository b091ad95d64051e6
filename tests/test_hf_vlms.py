"""Real Hugging Face VLM families through the same stage code as the miniature: tiny random Qwen2-VL, Qwen2.5-VL,
Qwen3-VL, Idefics3 (SmolVLM), InternVL, Gemma 3 and LLaVA-OneVision built from configs (`tiny_vlms.py`), saved as
HF folders, trained one GRPO or SFT stage by `run_stage` (load, freeze, TRL trainer, atomic save) with the vision
tower frozen or not, with LoRA, evaluated by `seethink eval`, and loaded back.

Qwen-VL processors need torchvision for their video part; without it seethink rebuilds them image-only
(`seethink.models.processors`), and this test runs on a machine without torchvision."""

import pytest
import torch
from PIL import Image
from tiny_vlms import BUILDERS

from seethink.models.freeze import is_vision_param
from seethink.models.load import load_model, load_processor
from seethink.recipe import DataSource, Recipe, Stage


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_tiny_vlm_sees_the_image_and_round_trips(arch, tmp_path):
    model, proc = BUILDERS[arch]()
    text = proc.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}],
        add_generation_prompt=True,
        tokenize=False,
    )
    red, blue = (
        proc(images=[Image.new("RGB", (64, 64), c)], text=[text], return_tensors="pt") for c in ("red", "blue")
    )
    with torch.no_grad():
        assert not torch.allclose(model(**red).logits[0, -1], model(**blue).logits[0, -1])
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    loaded, loaded_proc = load_model(tmp_path)
    again = loaded_proc(images=[Image.new("RGB", (64, 64), "red")], text=[text], return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**red).logits, loaded(**again).logits)
    assert type(loaded_proc).__name__ == type(proc).__name__  # saved under the stock class name


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_seethink_eval_runs_each_family_on_world_records(arch, world_dir, tmp_path):
    import json

    from conftest import seethink

    model, proc = BUILDERS[arch]()
    model.save_pretrained(tmp_path / "m")
    proc.save_pretrained(tmp_path / "m")
    seethink("eval", tmp_path / "m", "--data", world_dir, "--limit", 3, "--max-new-tokens", 6, "--out", tmp_path / "ev")
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert set(summary["capability"]) == {"perception", "text_reasoning", "visual_reasoning"}
    rows = [json.loads(line) for line in (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and all(isinstance(r["completion"], str) for r in rows)


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_every_tested_family_passes_the_check_at_recipe_load(arch, tmp_path):
    from seethink.models.freeze import TESTED_FAMILIES, check_family

    model, _ = BUILDERS[arch]()
    model.config.save_pretrained(tmp_path)  # the check reads config.json only: no weights, no memory
    assert check_family(tmp_path, freeze=True) in TESTED_FAMILIES


def test_an_unsupported_family_is_one_line_before_anything_runs(world_dir, tiny_text_lm_dir, tmp_path):
    """A text-only LM, and a VLM whose vision modules the freeze patterns do not name (Fuyu feeds patches straight
    into the decoder): `seethink train` stops at recipe load with one line naming config.json's model_type."""
    from conftest import seethink
    from test_train import RECIPES, smoke_args
    from transformers import FuyuConfig

    fuyu = tmp_path / "fuyu"
    FuyuConfig(
        text_config={
            "model_type": "persimmon",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "vocab_size": 300,
        },
        hidden_size=32,
        patch_size=8,
    ).save_pretrained(fuyu)
    for model, recipe, msg in [
        (tiny_text_lm_dir, "stage3-only.yaml", "config.json model_type 'llama' is not a vision-language model"),
        (fuyu, "staged.yaml", "freeze_vision finds no vision modules in FuyuForCausalLM (model_type 'fuyu'"),
    ]:
        p = seethink(
            "train",
            *smoke_args(RECIPES / recipe, world_dir, tmp_path / "runs", steps=1),
            "--set",
            f"model={model}",
            check=False,
        )
        assert p.returncode == 2, p.stderr
        assert msg in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("summary.json"))


def train_one(stage_mod, stage: Stage, start, out, world):
    """One stage through `run_stage` (with its test doubles patched into `stage_mod`), seed 0."""
    from seethink.train.plan import plan_stage, planning_processor

    recipe = Recipe(name="t", stages=[stage], seed=0)
    return stage_mod.run_stage(plan_stage(stage, recipe, world, out, planning_processor(recipe, start)), start, out)


def parity(completions, **_):
    """A random model never earns the real reward, so every GRPO group would have zero advantage and no gradient;
    reward the parity of the completion's length instead: random, but with variance inside each group."""
    return [float(len(c[-1]["content"] if isinstance(c, list) else c) % 2) for c in completions]


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["grpo", "sft"])
@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "trainable"])
@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_one_stage_on_a_real_vlm_family(arch, algorithm, frozen, world_dir, tmp_path, monkeypatch):
    import seethink.train.stage as stage_mod

    if algorithm == "grpo":
        monkeypatch.setattr("seethink.reward_specs.REWARDS", {"accuracy": parity, "format": parity})
    model, proc = BUILDERS[arch]()
    model.save_pretrained(tmp_path / "start")
    proc.save_pretrained(tmp_path / "start")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    stage = Stage(
        name="perception",
        data=[DataSource("perception")],
        algorithm=algorithm,
        steps=2,
        lr=1e-2,
        batch_size=8 if algorithm == "grpo" else 4,
        num_generations=4,
        max_completion_length=8,
        weight_decay=0.0,
        freeze_vision=frozen,
    )
    ckpt = train_one(stage_mod, stage, tmp_path / "start", tmp_path / "stage", world_dir)
    after, _ = load_model(ckpt)
    assert type(load_processor(ckpt)).__name__ == type(proc).__name__
    params = dict(after.named_parameters())
    vision = [n for n in before if is_vision_param(n)]
    language = [n for n in before if not is_vision_param(n)]
    assert vision
    assert language
    moved = {n for n in before if not torch.equal(before[n], params[n])}
    assert len(moved & set(language)) >= len(language) // 2, f"only {len(moved & set(language))}/{len(language)} moved"
    if frozen:
        assert not moved & set(vision), f"frozen vision tensors changed: {sorted(moved & set(vision))[:3]}"
    else:
        assert len(moved & set(vision)) >= len(vision) // 2, (
            f"only {len(moved & set(vision))}/{len(vision)} vision moved"
        )


# ---------------------------------------------------------------- LoRA


def lora_stage(**kw):
    from seethink.recipe import Lora

    return Stage(
        name="perception",
        data=[DataSource("perception")],
        steps=kw.pop("steps", 2),
        lr=5e-2,
        batch_size=8,
        num_generations=4,
        max_completion_length=8,
        weight_decay=0.0,
        lora=Lora(r=4, alpha=8),
        **kw,
    )


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["llava", *sorted(BUILDERS)])
def test_lora_stage_merges_adapters_into_a_plain_checkpoint(arch, world_dir, tiny_model_dir, tmp_path, monkeypatch):
    import seethink.train.stage as stage_mod
    from seethink.train.lora import target_modules

    monkeypatch.setattr("seethink.reward_specs.REWARDS", {"accuracy": parity, "format": parity})
    start = tiny_model_dir
    if arch != "llava":
        model, proc = BUILDERS[arch]()
        model.save_pretrained(tmp_path / "start")
        proc.save_pretrained(tmp_path / "start")
        start = tmp_path / "start"
    before, _ = load_model(start)
    targets = {f"{n}.weight" for n in target_modules(before, lora_stage().lora)}
    ckpt = train_one(stage_mod, lora_stage(), start, tmp_path / "stage", world_dir)
    assert not list(ckpt.glob("adapter_*"))  # merged: a plain HF model
    after, _ = load_model(ckpt)
    b, a = dict(before.named_parameters()), dict(after.named_parameters())
    assert a.keys() == b.keys()
    moved = {n for n in b if not torch.equal(b[n], a[n])}
    assert moved, f"not a LoRA target: {sorted(moved - targets)[:3]}"
    assert moved <= targets, f"not a LoRA target: {sorted(moved - targets)[:3]}"
    assert not any(is_vision_param(n) for n in moved)  # the vision tower is not adapted by default
    assert len(moved) >= len(targets) // 2


@pytest.mark.slow
def test_lora_stage_resumes_from_its_adapters(world_dir, tiny_model_dir, tmp_path, monkeypatch):
    """Interrupted after its step-2 checkpoint (adapters only), the stage resumes to the weights of an
    uninterrupted run."""
    import seethink.train.stage as stage_mod
    from seethink.train.metrics import NonFiniteGuard

    monkeypatch.setattr("seethink.reward_specs.REWARDS", {"accuracy": parity, "format": parity})
    ref = train_one(stage_mod, lora_stage(steps=4), tiny_model_dir, tmp_path / "ref", world_dir)

    class Interrupt(NonFiniteGuard):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise KeyboardInterrupt
            return super().on_step_end(args, state, control, **kw)

    monkeypatch.setattr(stage_mod, "NonFiniteGuard", Interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_one(stage_mod, lora_stage(steps=4), tiny_model_dir, tmp_path / "run", world_dir)
    assert (tmp_path / "run" / "work" / "checkpoint-2" / "adapter_model.safetensors").is_file()
    monkeypatch.setattr(stage_mod, "NonFiniteGuard", NonFiniteGuard)
    got = train_one(stage_mod, lora_stage(steps=4), tiny_model_dir, tmp_path / "run", world_dir)
    a, b = dict(load_model(ref)[0].named_parameters()), dict(load_model(got)[0].named_parameters())
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_lora_recipe_fields_are_validated(tmp_path):
    from seethink.errors import SeethinkError
    from seethink.recipe import RECIPES_DIR, load_recipe

    staged = RECIPES_DIR / "staged.yaml"
    assert load_recipe(staged, ["stages.0.lora.r=8"]).stages[0].lora.r == 8
    for override, msg in [
        ("stages.0.lora.r=-1", "stages.0.lora.r: must be >= 0"),
        ("stages.1.lora.include_vision=true", "contradicts freeze_vision"),
        ("stages.0.lora.rank=8", "unknown key"),
        ("stages.0.lora.dropout=1", "must be in"),
    ]:
        extra = ["stages.1.lora.r=4"] if "include_vision" in override else []
        with pytest.raises(SeethinkError, match=msg):
            load_recipe(staged, [override, *extra])


# ---------------------------------------------------------------- stage hand-off


def _carried(folder) -> dict:
    """What a checkpoint hands on besides its weights, as the next stage and evaluation load it."""
    from transformers import GenerationConfig

    proc = load_processor(folder)
    tok = proc.tokenizer
    gen = {
        k: v for k, v in GenerationConfig.from_pretrained(folder).to_diff_dict().items() if k != "transformers_version"
    }
    return {
        "generation": gen,
        "template": proc.chat_template,
        "tokenizer_template": tok.chat_template,
        "special": {k: str(v) for k, v in tok.special_tokens_map.items()},
        "added": {i: str(t) for i, t in tok.added_tokens_decoder.items()},
        "vocab": len(tok),
        "processor": {k: v for k, v in proc.image_processor.to_dict().items() if k != "processor_class"},
        "class": type(proc).__name__,
    }


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["llava", *sorted(BUILDERS)])
def test_a_stage_hands_on_its_generation_config_template_processor_and_tokens(
    arch, world_dir, tiny_model_dir, tmp_path, monkeypatch
):
    """Start from a folder with a non-default generation config and chat template; after a GRPO stage and an SFT
    stage from its checkpoint, each checkpoint carries the same settings, and encodes a world record (what the next
    stage and `seethink eval` feed the model) to the same token ids and pixels."""
    import seethink.train.stage as stage_mod
    from seethink.models.generate import encode_prompts
    from seethink.records.io import load_records

    monkeypatch.setattr("seethink.reward_specs.REWARDS", {"accuracy": parity, "format": parity})
    model, proc = load_model(tiny_model_dir) if arch == "llava" else BUILDERS[arch]()  # llava: the miniature's own
    model.generation_config.update(do_sample=True, top_k=7, repetition_penalty=1.05, max_new_tokens=33)
    proc.chat_template = proc.tokenizer.chat_template = proc.chat_template + "{# seethink hand-off #}"
    start = tmp_path / "start"
    model.save_pretrained(start)
    proc.save_pretrained(start)
    folders = [start]
    for k, algorithm in enumerate(("grpo", "sft")):
        stage = Stage(
            name=f"s{k}",
            data=[DataSource("perception")],
            algorithm=algorithm,
            steps=1,
            lr=1e-3,
            batch_size=8 if algorithm == "grpo" else 4,
            num_generations=4,
            max_completion_length=8,
            freeze_vision=algorithm == "sft",
        )
        folders.append(train_one(stage_mod, stage, folders[-1], tmp_path / stage.name, world_dir))
    want = _carried(start)
    assert want["generation"]["top_k"] == 7 and want["template"].endswith("{# seethink hand-off #}")
    record = load_records(world_dir / "perception", "validation")[0]
    encoded = [encode_prompts(load_processor(f), [record]) for f in folders]
    for folder, enc in zip(folders[1:], encoded[1:]):
        assert _carried(folder) == want, folder
        assert enc.keys() == encoded[0].keys()
        assert all(torch.equal(enc[key], encoded[0][key]) for key in enc), folder


# ---------------------------------------------------------------- multi-image records


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["llava", "qwen2.5-vl"])
def test_two_image_records_train_and_evaluate(arch, pairs_world_dir, tiny_model_dir, tmp_path, monkeypatch):
    """The world's two-image family (`image_pairs`) through a GRPO and an SFT stage with the vision tower trainable,
    then `seethink eval`, on LLaVA (the miniature's architecture) and Qwen2.5-VL: both images reach the model (two
    images' worth of pixels and placeholder tokens per prompt), the vision tower learns from them, evaluation scores
    every record."""
    import json
    import shutil

    from conftest import seethink

    import seethink.train.stage as stage_mod
    from seethink.models.generate import encode_prompts
    from seethink.records.io import load_records

    monkeypatch.setattr("seethink.reward_specs.REWARDS", {"accuracy": parity, "format": parity})
    start = tmp_path / "start"
    if arch == "llava":
        shutil.copytree(tiny_model_dir, start)
    else:
        model, proc = BUILDERS[arch]()
        model.save_pretrained(start)
        proc.save_pretrained(start)
    model, proc = load_model(start)
    record = load_records(pairs_world_dir / "image_pairs", "validation")[0]
    one = {**record, "images": record["images"][:1]}
    two, single = encode_prompts(proc, [record]), encode_prompts(proc, [one])
    image_token = (
        model.config.image_token_id if hasattr(model.config, "image_token_id") else model.config.image_token_index
    )
    assert (two["input_ids"] == image_token).sum() == 2 * (single["input_ids"] == image_token).sum() > 0
    assert two["pixel_values"].shape[0] == 2 * single["pixel_values"].shape[0]
    before = {n: p.detach().clone() for n, p in model.named_parameters() if is_vision_param(n)}
    folder = start
    for algorithm in ("grpo", "sft"):
        stage = Stage(
            name=algorithm,
            data=[DataSource("image_pairs")],
            algorithm=algorithm,
            steps=2,
            lr=1e-2,
            batch_size=8 if algorithm == "grpo" else 4,
            num_generations=4,
            max_completion_length=8,
            weight_decay=0.0,
        )
        folder = train_one(stage_mod, stage, folder, tmp_path / algorithm, pairs_world_dir)
    after = dict(load_model(folder)[0].named_parameters())
    assert sum(not torch.equal(before[n], after[n]) for n in before) >= len(before) // 2
    seethink("eval", folder, "--data", pairs_world_dir / "image_pairs", "--max-new-tokens", 6, "--out", tmp_path / "ev")
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["capability"]["visual_reasoning"]["n"] == 12
    assert set(summary["family"]) == {"visual_reasoning/compare_pair"}
