"""The real command line, end to end: help, world build/show, a short pretraining run, eval, bad input."""

import json

import pytest
from conftest import seethink


@pytest.mark.parametrize(
    "verb",
    [
        [],
        ["world"],
        ["world", "build"],
        ["world", "show"],
        ["pretrain"],
        ["eval"],
        ["train"],
        ["report"],
        ["passk"],
        ["experiment"],
        ["experiment", "paper"],
    ],
)
def test_help_on_every_verb(verb):
    p = seethink(*verb, "--help")
    assert "usage: seethink" in p.stdout


def test_world_build_and_show(tmp_path):
    seethink("world", "build", "--out", tmp_path / "w", "--seed", 1, "--train", 8, "--validation", 4, "--test", 4)
    meta = json.loads((tmp_path / "w" / "world.json").read_text())
    assert meta["seed"] == 1
    assert meta["sizes"] == {"train": 8, "validation": 4, "test": 4}
    for name in ("perception", "text_reasoning", "visual_reasoning", "captions"):
        assert len((tmp_path / "w" / name / "test.jsonl").read_text().splitlines()) == 4
    p = seethink("world", "show", tmp_path / "w", "-n", 2)
    assert "answer:" in p.stdout
    from PIL import Image

    assert Image.open(tmp_path / "w" / "show-perception-train.png").size == (512, 406)


def test_world_build_of_some_datasets_keeps_their_held_out_splits(tmp_path):
    """A bigger train split of one dataset, built alone, is evaluated on the very same validation records."""
    seethink("world", "build", "--out", tmp_path / "a", "--train", 6, "--validation", 5, "--test", 2)
    seethink(
        "world",
        "build",
        "--out",
        tmp_path / "b",
        "--train",
        40,
        "--validation",
        5,
        "--test",
        2,
        "--datasets",
        "perception",
    )
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["perception", "world.json"]
    assert json.loads((tmp_path / "b" / "world.json").read_text())["datasets"] == ["perception"]
    for split in ("validation", "test"):
        a, b = (tmp_path / w / "perception" / f"{split}.jsonl" for w in "ab")
        assert a.read_bytes() == b.read_bytes()
    assert len((tmp_path / "b" / "perception" / "train.jsonl").read_text().splitlines()) == 40
    p = seethink("world", "build", "--out", tmp_path / "c", "--datasets", "colour", check=False)
    assert p.returncode == 2
    assert "--datasets" in p.stderr
    assert not (tmp_path / "c").exists()
    # a part of an existing world is not rebuilt alone: the rest would come from another size or seed
    before = (tmp_path / "a" / "perception" / "train.jsonl").read_bytes()
    p = seethink("world", "build", "--out", tmp_path / "a", "--train", 9, "--datasets", "perception", check=False)
    assert p.returncode == 2
    assert "text_reasoning, visual_reasoning, captions too" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert (tmp_path / "a" / "perception" / "train.jsonl").read_bytes() == before
    seethink("world", "build", "--out", tmp_path / "b", "--train", 9, "--datasets", "perception", "perception")
    assert json.loads((tmp_path / "b" / "world.json").read_text())["datasets"] == ["perception"]


@pytest.mark.slow
def test_short_pretrain_then_eval(tmp_path, world_dir):
    seethink("pretrain", "--out", tmp_path / "base", "--steps", 3, "--batch-size", 8, "--data-scale", 0.004)
    assert (tmp_path / "base" / "model.safetensors").is_file()
    assert not list(tmp_path.glob(".base.work*"))  # in-progress checkpoints are cleaned up
    stats = json.loads((tmp_path / "base" / "pretrain_stats.json").read_text())
    assert stats["examples"] > 0
    assert stats["params"] > 100_000
    p = seethink(
        "eval", tmp_path / "base", "--data", world_dir, "--limit", 6, "--max-new-tokens", 8, "--out", tmp_path / "ev"
    )
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert set(summary["capability"]) == {"perception", "text_reasoning", "visual_reasoning"}
    assert summary["prior"]  # train splits found next to test: prior baselines computed
    rows = (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()
    assert len(rows) == 18
    assert "completion" in json.loads(rows[0])
    assert "samples in" in p.stdout
    # continued pretraining starts from that base's weights and keeps its tokenizer
    seethink(
        "pretrain",
        "--out",
        tmp_path / "more",
        "--init",
        tmp_path / "base",
        "--steps",
        1,
        "--batch-size",
        4,
        "--data-scale",
        0.001,
        "--lr",
        1e-9,
        "--seed",
        1,
    )
    from safetensors.torch import load_file

    before, after = (load_file(tmp_path / d / "model.safetensors") for d in ("base", "more"))
    assert before.keys() == after.keys()
    assert max((before[k] - after[k]).abs().max().item() for k in before) < 1e-4  # lr 1e-9: the same weights
    assert (tmp_path / "base" / "tokenizer.json").read_bytes() == (tmp_path / "more" / "tokenizer.json").read_bytes()
    assert json.loads((tmp_path / "more" / "pretrain_config.json").read_text())["init"] == str(tmp_path / "base")


def test_eval_with_attribution_on_the_shipped_base(tmp_path, world_dir):
    p = seethink("eval", "--data", world_dir, "--limit", 24, "--attribute", "--out", tmp_path / "ev")
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    att = summary["attribution"]
    verdicts = [json.loads(line) for line in (tmp_path / "ev" / "attribution.jsonl").read_text().splitlines()]
    wrong = [json.loads(line) for line in (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()]
    wrong = [r["id"] for r in wrong if r["accuracy"] < 1]
    assert [v["id"] for v in verdicts] == wrong
    assert att["all"]["errors"] == len(wrong)
    vr = [v for v in verdicts if v["capability"] == "visual_reasoning"]
    assert vr
    assert all(v["method"] == "facts" and v["evidence"]["probes"] >= 2 for v in vr)
    assert att["all"]["answers"] == 72
    assert "perception share" in p.stdout
    assert summary["capability"]["text_reasoning"]["mean_think_tokens"] > 0


def test_eval_can_sample(tmp_path, world_dir):
    outs = []
    for seed in (0, 0, 1):
        out = tmp_path / f"ev{len(outs)}"
        seethink(
            "eval",
            "--data",
            world_dir / "visual_reasoning",
            "--limit",
            16,
            "--temperature",
            1.0,
            "--seed",
            seed,
            "--out",
            out,
        )
        assert json.loads((out / "summary.json").read_text())["decoding"] == "sampled, temperature 1.0"
        outs.append([json.loads(line)["completion"] for line in (out / "samples.jsonl").read_text().splitlines()])
    assert outs[0] == outs[1] != outs[2]  # seeded sampling


def test_eval_reports_sampled_accuracy_and_pass_at_k(tmp_path, world_dir):
    seethink("eval", "--data", world_dir / "visual_reasoning", "--limit", 16, "--samples", 4, "--out", tmp_path / "ev")
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()]
    cap = summary["capability"]["visual_reasoning"]
    assert summary["decoding"] == "greedy"
    assert summary["sampling"] == {"k": 4, "temperature": 1.0}
    assert cap["k"] == 4
    assert 0 <= cap["sampled_accuracy"] <= cap["pass_at_k"] <= 1
    assert cap["sampled_accuracy"] == sum(r["sampled_correct"] for r in rows) / (4 * len(rows))
    assert cap["pass_at_k"] == sum(r["sampled_correct"] > 0 for r in rows) / len(rows)
    assert cap["pass_at_k"] > 0  # the shipped base solves some of these when it samples


@pytest.mark.parametrize(
    "args,msg",
    [
        (["eval", "{tmp}/nomodel", "--data", "{tmp}"], "does not exist"),
        (["eval", "--data", "{tmp}", "--temperature", "-1"], "temperature: must be in [0, 100]"),
        (["eval", "--data", "{tmp}/nodata"], "data path"),
        (["report", "{tmp}", "--out", "{tmp}/r"], "is not a seethink run folder"),
        (["world", "build", "--out", "{tmp}/file.txt"], "exists and is not a directory"),
        (
            ["world", "build", "--out", "{tmp}/w", "--min-objects", "5", "--max-objects", "2"],
            "min_objects/max_objects must satisfy",
        ),
        (["world", "show", "{tmp}"], "no train.jsonl"),
        (["pretrain", "--out", "{tmp}/b", "--lr", "5"], "lr: must be in (0, 1), got 5"),
        (
            ["pretrain", "--out", "{tmp}/b", "--config", "{tmp}/file.txt"],
            "file.txt: a pretraining config must be a YAML mapping",
        ),
        (["pretrain", "--out", "{tmp}/b", "--init", "{tmp}"], "is not a base written by `seethink pretrain`"),
        (
            ["eval", "--data", "{tmp}", "--samples", "2", "--sample-temperature", "0"],
            "sample_temperature: must be in (0, 100]",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, msg):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "test.jsonl").write_text(
        json.dumps({"id": "a", "problem": "1+1?", "answer": "2", "capability": "text_reasoning"}) + "\n"
    )
    p = seethink(*[a.format(tmp=tmp_path) for a in args], check=False)
    assert p.returncode == 2
    assert msg in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text,msg",
    [
        ("lr: fast", "cfg.yaml: lr: expected a number, got 'fast'"),
        ("stpes: 10", "cfg.yaml: stpes: unknown key (did you mean 'steps'?)"),
        ("size: huge", "cfg.yaml: size: must be one of tiny, tiny-v2, small, medium, got 'huge'"),
        ("mix: {captions: 1.5}", "cfg.yaml: mix.captions: expected a whole number, got 1.5"),
        ("world: {max_objects: 12}", "cfg.yaml: world: min_objects/max_objects must satisfy"),
        ("world: {max_object: 3}", "cfg.yaml: world.max_object: unknown key (did you mean 'max_objects'?)"),
        ("init: 3", "cfg.yaml: init: expected a string, got 3"),
    ],
)
def test_a_bad_pretraining_config_is_one_line_naming_the_file_and_field(tmp_path, text, msg):
    """`pretrain --config` goes through the typed loader recipes use (issue 34 item 6)."""
    (tmp_path / "cfg.yaml").write_text(f"init: null\n{text}\n" if not text.startswith("init") else text + "\n")
    p = seethink("pretrain", "--out", tmp_path / "b", "--config", tmp_path / "cfg.yaml", check=False)
    assert p.returncode == 2
    assert msg in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args", [["world", "build", "--out", "x", "--train", "0"], ["pretrain", "--out", "x", "--steps", "-1"]]
)
def test_argument_errors_exit_2(args):
    p = seethink(*args, check=False)
    assert p.returncode == 2
    assert "must be > 0" in p.stderr
    assert "Traceback" not in p.stderr
