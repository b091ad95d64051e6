"""The tiny default VLM: offline build, save/load round trip, loader errors."""

import pytest
import torch

from seethink.errors import SeethinkError
from seethink.miniature.world.generate import WorldConfig, generate
from seethink.models.load import load_model


def test_round_trip_gives_identical_outputs(tiny_model_dir, tmp_path):
    from seethink.models.generate import encode_prompts

    model, proc = load_model(tiny_model_dir, device="cpu")
    g = next(generate("perception", "x", 1, 0))
    path = tmp_path / "a.png"
    g.image.save(path)
    rec = {**g.record, "images": [str(path)]}
    enc = encode_prompts(proc, [rec])
    assert (enc["input_ids"] == model.config.image_token_index).sum() == model.config.image_seq_length
    with torch.no_grad():
        a = model(**enc).logits
    model.save_pretrained(tmp_path / "copy")
    proc.save_pretrained(tmp_path / "copy")
    model2, proc2 = load_model(tmp_path / "copy", device="cpu")
    with torch.no_grad():
        b = model2(**encode_prompts(proc2, [rec])).logits
    assert torch.equal(a, b)


def test_tokenizer_keeps_format_tokens_whole(tiny_model_dir):
    _, proc = load_model(tiny_model_dir, device="cpu")
    tok = proc.tokenizer
    ids = tok("<think>2 + 3 = 5.</think>\\boxed{5}", add_special_tokens=False)["input_ids"]
    toks = tok.convert_ids_to_tokens(ids)
    assert toks[0] == "<think>"
    assert "</think>" in toks
    assert tok.decode(ids) == "<think>2 + 3 = 5.</think>\\boxed{5}"
    assert tok.padding_side == "left"
    # TRL decodes completions with skip_special_tokens=True: the think tags must survive it
    assert tok.decode(ids, skip_special_tokens=True) == "<think>2 + 3 = 5.</think>\\boxed{5}"


def test_shipped_base_keeps_think_tags_when_decoding():
    from seethink.miniature.base import base_path
    from seethink.models.load import load_processor

    tok = load_processor(base_path()).tokenizer
    ids = tok("<think>x</think>\\boxed{1}<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "<think>x</think>\\boxed{1}"


def test_generation_never_emits_the_image_token(tiny_model_dir, world_dir):
    from seethink.models.generate import generate as gen
    from seethink.records.io import load_records

    model, proc = load_model(tiny_model_dir, device="cpu")
    recs = load_records(world_dir / "perception", "test")[:4]
    outs = gen(model, proc, recs, max_new_tokens=8, do_sample=True, num_return_sequences=2)
    assert len(outs) == 4
    assert all(len(o) == 2 for o in outs)
    assert not any("<image>" in c.text for o in outs for c in o)


@pytest.mark.parametrize(
    "make,msg",
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "not a Hugging Face model folder"),
        (
            lambda p: (p / "bad").mkdir() or (p / "bad" / "config.json").write_text("{oops") and p / "bad",
            "malformed JSON",
        ),
    ],
)
def test_bad_model_paths_raise_one_line(tmp_path, make, msg):
    with pytest.raises(SeethinkError, match=msg) as e:
        load_model(make(tmp_path))
    assert "\n" not in str(e.value)


def test_terse_share_of_pretraining_answers(tiny_model_dir):
    """`terse` answers a share of a dataset's examples without worked reasoning; the other examples, and every
    dataset it does not name, are the world's worked solutions exactly as without it."""
    from seethink.miniature.pretrain import pretrain_data
    from seethink.miniature.pretrain_config import PretrainConfig
    from seethink.rewards import accuracy, format_ok

    _, proc = load_model(tiny_model_dir, device="cpu")
    mix = {"text_reasoning": 400, "visual_reasoning": 20}

    def targets(terse):
        data = pretrain_data(proc, PretrainConfig(mix=mix, terse=terse))
        return [proc.tokenizer.decode(d["input_ids"][d["cut"] :], skip_special_tokens=True).strip() for d in data]

    plain, mixed = targets({}), targets({"text_reasoning": 0.5})
    assert targets({"text_reasoning": 0.5}) == mixed  # its own seeded stream: the same run gives the same styles
    terse = [m for m in mixed[:400] if "Answer: " in m]
    assert 160 <= len(terse) <= 240
    assert all(m == p for m, p in zip(mixed, plain) if "Answer: " not in m)
    assert mixed[400:] == plain[400:]  # visual reasoning untouched
    gold = [p.split("\\boxed{")[1].rstrip("}") for p in plain[:400]]
    for m, g in zip(mixed, gold):
        if "Answer: " in m:
            assert m == f"<think>Answer: {g}.</think>\\boxed{{{g}}}"
            assert format_ok(m) and accuracy(m, g) == 1.0


def test_look_style_describes_the_image_first(tiny_model_dir):
    from seethink.miniature.pretrain import pretrain_data
    from seethink.miniature.pretrain_config import PretrainConfig

    _, proc = load_model(tiny_model_dir, device="cpu")
    cfg = PretrainConfig(mix={"perception": 200}, terse={"perception": 0.25}, look={"perception": 0.5})
    got = [
        proc.tokenizer.decode(d["input_ids"][d["cut"] :], skip_special_tokens=True).strip()
        for d in pretrain_data(proc, cfg)
    ]
    plain = [g.record for g in generate("perception", "pretrain", 200, cfg.seed, WorldConfig(**cfg.world))]
    looked = [t for t, r in zip(got, plain) if t == r["solution"].replace("<think>", f"<think>{r['caption']} ")]
    terse = [t for t in got if t.startswith("<think>Answer: ")]
    worked = [t for t, r in zip(got, plain) if t == r["solution"]]
    assert len(looked) + len(terse) + len(worked) == 200
    assert 70 <= len(looked) <= 130 and 25 <= len(terse) <= 75


def test_guess_style_answers_from_the_prior_not_the_record(tiny_model_dir):
    """A guess boxes one of the options at random (MCQ) or the previous example's answer (numeric): nothing of the
    image or the question, so guesses are right about as often as the answer prior, and always in the format."""
    from seethink.miniature.pretrain import pretrain_data
    from seethink.miniature.pretrain_config import PretrainConfig
    from seethink.rewards import accuracy, format_ok

    _, proc = load_model(tiny_model_dir, device="cpu")
    cfg = PretrainConfig(
        mix={"perception": 400, "visual_reasoning": 400}, guess={"perception": 0.5, "visual_reasoning": 0.5}
    )
    got = [
        proc.tokenizer.decode(d["input_ids"][d["cut"] :], skip_special_tokens=True).strip()
        for d in pretrain_data(proc, cfg)
    ]
    world = WorldConfig(**cfg.world)
    plain = [
        g.record
        for name in ("perception", "visual_reasoning")
        for g in generate(name, "pretrain", 400, cfg.seed, world)
    ]
    guessed = [(i, t) for i, t in enumerate(got) if t.startswith("<think>Guess: ")]
    assert all(t == r["solution"] for t, r in zip(got, plain) if not t.startswith("<think>Guess: "))
    assert 320 <= len(guessed) <= 480
    right = 0
    for i, t in guessed:
        assert format_ok(t)
        value = t.split("\\boxed{")[1].rstrip("}")
        if i < 400:
            assert value in plain[i]["options"]
        else:
            assert i > 400 and value == plain[i - 1]["answer"]
        right += (
            accuracy(t, plain[i]["answer"]) if i >= 400 else value == plain[i]["options"][ord(plain[i]["answer"]) - 65]
        )
    assert right / len(guessed) < 0.4  # chance, not the record's answer


def test_quick_style_is_the_guess_under_its_own_opening(tiny_model_dir):
    """`quick` on a dataset picks the same examples and the same answers as `guess` would, opened with `Quick:`;
    style_of tells the styles apart by their openings alone."""
    from seethink.miniature.pretrain import pretrain_data, style_of
    from seethink.miniature.pretrain_config import PretrainConfig

    _, proc = load_model(tiny_model_dir, device="cpu")
    mix = {"perception": 150, "visual_reasoning": 150}

    def targets(**styles):
        return [
            proc.tokenizer.decode(d["input_ids"][d["cut"] :], skip_special_tokens=True).strip()
            for d in pretrain_data(proc, PretrainConfig(mix=mix, **styles))
        ]

    guessed = targets(guess={"perception": 0.5, "visual_reasoning": [0.1, 0.9]})
    quick = targets(guess={"perception": 0.5}, quick={"visual_reasoning": [0.1, 0.9]})
    assert quick[:150] == guessed[:150]  # perception untouched
    assert [t.replace("<think>Quick: ", "<think>Guess: ", 1) for t in quick[150:]] == guessed[150:]
    styles = [style_of(t) for t in quick]
    assert set(styles[:150]) == {"guess", "worked"} and set(styles[150:]) == {"quick", "worked"}
    assert 40 <= styles[150:].count("quick") <= 110
    assert style_of("<think>Answer: 3.</think>\\boxed{3}") == "terse"


def test_a_style_share_can_rise_with_how_hard_the_question_is(tiny_model_dir):
    """guess [0, 1] on perception: never on images of the world's fewest objects, always on its most; terse [0, 1]
    on word problems: never on one step, always on the most steps the pretraining world has."""
    from seethink.miniature.pretrain import hardness, pretrain_data
    from seethink.miniature.pretrain_config import PretrainConfig

    _, proc = load_model(tiny_model_dir, device="cpu")
    cfg = PretrainConfig(
        mix={"perception": 300, "text_reasoning": 300},
        guess={"perception": [0, 1]},
        terse={"text_reasoning": [0.0, 1.0]},
    )
    world = WorldConfig(**cfg.world)
    got = [
        proc.tokenizer.decode(d["input_ids"][d["cut"] :], skip_special_tokens=True).strip()
        for d in pretrain_data(proc, cfg)
    ]
    plain = [
        g.record for name in ("perception", "text_reasoning") for g in generate(name, "pretrain", 300, cfg.seed, world)
    ]
    careless = [t.startswith(("<think>Guess: ", "<think>Answer: ")) for t in got]
    h = [hardness(r, world) for r in plain]
    assert {round(x, 2) for x in h[:300]} == {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}
    assert {round(x, 2) for x in h[300:]} == {0.0, 0.33, 0.67, 1.0}
    assert all(c for c, x in zip(careless, h) if x == 1.0) and not any(c for c, x in zip(careless, h) if x == 0.0)
    mid = [c for c, x in zip(careless, h) if 0.3 < x < 0.7]
    assert 0.25 < sum(mid) / len(mid) < 0.75


@pytest.mark.parametrize(
    "given, says",
    [
        ({"terse": {"captions": 0.5}}, "terse: expected shares"),
        ({"terse": {"text_reasoning": 1.5}}, "terse: expected shares"),
        ({"terse": {"text_reasoning": True}}, "terse: expected shares"),
        ({"terse": ["text_reasoning"]}, "terse: expected shares"),
        (
            {"look": {"text_reasoning": 0.5}},
            r"look: expected shares in \[0, 1\] \(or \[easiest, hardest\] pairs of them\) of perception, "
            r"visual_reasoning;",
        ),
        ({"guess": {"captions": 0.5}}, "guess: expected shares"),
        ({"guess": {"perception": [0.1, 1.5]}}, "guess: expected shares"),
        ({"guess": {"perception": [0.1]}}, "guess: expected shares"),
        ({"quick": {"captions": 0.5}}, "quick: expected shares"),
        ({"guess": {"perception": 0.6}, "quick": {"perception": 0.5}}, "add up to more than 1"),
        ({"guess": {"perception": [0.1, 0.9]}, "terse": {"perception": [0.0, 0.2]}}, "add up to more than 1"),
        ({"terse": {"perception": 0.6}, "look": {"perception": 0.6}}, "add up to more than 1"),
        ({"terse": {"text_reasoning": 0.6}, "guess": {"text_reasoning": 0.5}}, "add up to more than 1"),
    ],
)
def test_styles_must_be_shares_of_question_datasets(given, says):
    from seethink.miniature.pretrain_config import PretrainConfig

    with pytest.raises(SeethinkError, match=says):
        PretrainConfig(**given)


def test_answer_styles_script_on_a_hand_made_run(tmp_path):
    """benchmarks/answer_styles.py: per evaluation and capability, each style's share, accuracy and think tokens."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    rows = [
        ("visual_reasoning", "<think>Quick: 3.</think>\\boxed{3}", 0.0, 4),
        ("visual_reasoning", "<think>There are 2 objects. 2 + 1 = 3.</think>\\boxed{3}", 1.0, 12),
        ("visual_reasoning", "<think>There are 2 objects. 2 + 2 = 4.</think>\\boxed{4}", 0.0, 14),
        ("perception", "<think>Guess: red.</think>\\boxed{red}", 1.0, 4),
        ("text_reasoning", "<think>Answer: 7.</think>\\boxed{7}", 0.0, 4),
    ]
    for where in ("eval/start", "eval/final-test"):
        (tmp_path / "run" / where).mkdir(parents=True)
        (tmp_path / "run" / where / "samples.jsonl").write_text(
            "".join(
                json.dumps({"capability": c, "completion": t, "accuracy": a, "think_tokens": k}) + "\n"
                for c, t, a, k in rows
            )
        )
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "answer_styles.py"
    p = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "run"), "--json", str(tmp_path / "s.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    got = json.loads((tmp_path / "s.json").read_text())[str(tmp_path / "run")]
    assert set(got) == {"start", "final-test"}
    vr = got["final-test"]["visual_reasoning"]
    assert vr["quick"]["n"] == 1 and vr["worked"]["share"] == pytest.approx(2 / 3)
    assert vr["worked"]["accuracy"] == 0.5 and vr["worked"]["think_tokens"] == 13
    assert got["start"]["perception"]["guess"]["accuracy"] == 1.0 and "terse" in got["start"]["text_reasoning"]
    bad = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no evaluations" in bad.stderr and "Traceback" not in bad.stderr


def test_generation_precision_and_attention_by_machine(monkeypatch, tiny_model_dir):
    """On CPU nothing changes (fp32, the model's own attention); on a CUDA GPU with bf16, evaluation and the KL
    reference load bf16 weights with flash-attention-2 where installed, else sdpa; the recipe can say otherwise."""
    import importlib.util

    import torch

    from seethink.models import load
    from seethink.recipe import RECIPES_DIR, load_recipe
    from seethink.train.trl_config import reference_args

    recipe = load_recipe(RECIPES_DIR / "staged.yaml")
    assert (load.inference_dtype(), load.attn_implementation()) == (torch.float32, None)
    assert reference_args(recipe.stages[0], recipe) == {}
    model = load.load_weights(tiny_model_dir, device="cpu")
    assert model.dtype == torch.float32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    has_flash = importlib.util.find_spec("flash_attn") is not None
    assert load.inference_dtype() == torch.bfloat16 and load.inference_dtype("fp32") == torch.float32
    assert load.attn_implementation() == ("flash_attention_2" if has_flash else "sdpa")
    assert load.attn_implementation("eager") == "eager"
    gpu = load_recipe(RECIPES_DIR / "gpu" / "qwen2.5-vl-7b-staged.yaml")
    assert reference_args(gpu.stages[0], gpu) == {
        "model_init_kwargs": {
            "dtype": torch.bfloat16,
            "attn_implementation": "flash_attention_2" if has_flash else "sdpa",
        }
    }
    fp32 = load_recipe(
        RECIPES_DIR / "gpu" / "qwen2.5-vl-7b-staged.yaml", ["precision=fp32", "attn_implementation=eager"]
    )
    assert reference_args(fp32.stages[0], fp32) == {
        "model_init_kwargs": {"dtype": torch.float32, "attn_implementation": "eager"}
    }
    with pytest.raises(Exception, match="attn_implementation"):
        load_recipe(RECIPES_DIR / "staged.yaml", ["attn_implementation=flash3"])
