"""Hostile input, round three (issue 33): every case a careful new user found, as a test. Data is never lost,
mixed or written outside its output; a bad value is one line and exit 2; nothing hangs."""

import json
import os
import struct
import zlib

import pytest
from conftest import seethink

from seethink.errors import SeethinkError
from seethink.fileio import WriterBusy, writer_lock
from seethink.miniature.base import base_path
from seethink.recipe import RECIPES_DIR, load_recipe

SMALL = ("--train", 4, "--validation", 4, "--test", 4)


def one_line(p, *needles):
    """Exit 2 with exactly one `seethink: error:` line (or argparse's one `error:` line) and no traceback."""
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr[-3000:]
    errors = [line for line in p.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, p.stderr[-2000:]
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


def record(i, **kw):
    return {"id": f"r{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1), "capability": "text_reasoning", **kw}


def write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- data lost, mixed or written outside the output ---------------------------------------------------------


def test_a_symlink_alias_of_an_output_takes_the_same_writer_lock(tmp_path):
    (tmp_path / "wlock").mkdir()
    (tmp_path / "wlink").symlink_to(tmp_path / "wlock")
    for alias in (tmp_path / "wlink", tmp_path / "wlock" / ".." / "wlock", tmp_path / "wlock/"):
        with writer_lock(tmp_path / "wlock", "first"):
            with pytest.raises(WriterBusy, match="first"):
                with writer_lock(alias, "second"):
                    pass


def test_world_build_refuses_a_folder_it_did_not_write(tmp_path):
    mine = write_rows(tmp_path / "D" / "perception" / "train.jsonl", [record(0)])
    before = mine.read_bytes()
    one_line(seethink("world", "build", "--out", tmp_path / "D", *SMALL, check=False), "not empty", "world.json")
    assert mine.read_bytes() == before and tree(tmp_path / "D") == ["perception", "perception/train.jsonl"]


def test_world_build_resumes_its_own_interrupted_build_and_rebuilds_its_own_world(tmp_path):
    seethink("world", "build", "--out", tmp_path / "W", *SMALL)
    (tmp_path / "W" / "world.json").unlink()  # as if killed before the end ...
    (tmp_path / "W" / ".seethink-world").touch()  # ... which leaves the marker written first
    seethink("world", "build", "--out", tmp_path / "W", *SMALL)
    seethink("world", "build", "--out", tmp_path / "W", *SMALL, "--seed", 1)
    assert json.loads((tmp_path / "W" / "world.json").read_text())["seed"] == 1
    assert not (tmp_path / "W" / ".seethink-world").exists()


def test_world_build_into_an_unwritable_place_is_one_line(tmp_path):
    one_line(seethink("world", "build", "--out", "/proc/nope", *SMALL, check=False), "/proc/nope")


def test_data_filter_never_overwrites_its_input_and_keeps_every_splits_dropped_rows(world_dir, tmp_path):
    src = tmp_path / "D"
    for split in ("train", "validation"):
        lines = (world_dir / "perception" / f"{split}.jsonl").read_text().splitlines()[:12]
        rows = [json.loads(line) for line in lines]
        for r in rows:
            r["images"] = [str((world_dir / "perception" / p).resolve()) for p in r["images"]]
            r["pass_rate"] = 0.5 if int(r["id"].split("-")[-1]) % 2 else 1.0
        write_rows(src / f"{split}.jsonl", rows)
    before = (src / "train.jsonl").read_bytes()
    one_line(seethink("data", "filter", src, "--out", src, "--pass-rate", "0:0.9", check=False), "overlaps the input")
    one_line(
        seethink("data", "filter", src / "train.jsonl", "--out", src, "--pass-rate", "0:0.9", check=False),
        "overlaps the input",
    )
    assert (src / "train.jsonl").read_bytes() == before
    for split in ("train", "validation"):
        seethink("data", "filter", src, "--out", tmp_path / "F", "--split", split, "--pass-rate", "0:0.9")
    for split in ("train", "validation"):  # the second split's run kept the first split's dropped rows
        dropped = (tmp_path / "F" / f"{split}.dropped.jsonl").read_text().splitlines()
        kept = (tmp_path / "F" / f"{split}.jsonl").read_text().splitlines()
        assert len(dropped) + len(kept) == 12 and dropped
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "train.jsonl").write_text("mine\n")
    one_line(
        seethink("data", "filter", src, "--out", tmp_path / "user", "--pass-rate", "0:0.9", check=False), "not empty"
    )
    assert (tmp_path / "user" / "train.jsonl").read_text() == "mine\n"


def test_export_takes_a_writer_lock_and_refuses_foreign_or_input_folders(world_dir, tmp_path):
    from seethink.cli import main
    from seethink.export.verl import export_verl

    recipe = load_recipe(RECIPES_DIR / "staged.yaml", [f"data={world_dir}", "eval.limit=4"])
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("years of work")
    with pytest.raises(SeethinkError, match="not empty"):
        export_verl(recipe, world_dir, tmp_path / "home", gpus=1, model=base_path())
    assert (tmp_path / "home" / "thesis.tex").read_text() == "years of work"
    with pytest.raises(SeethinkError, match="overlaps the input"):
        export_verl(recipe, world_dir, world_dir.parent, gpus=1, model=base_path())
    with writer_lock(tmp_path / "x", "another export"):
        assert (
            main(
                [
                    "export",
                    "verl",
                    str(RECIPES_DIR / "staged.yaml"),
                    "--out",
                    str(tmp_path / "x"),
                    "--set",
                    f"data={world_dir}",
                ]
            )
            == 2
        )
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "flags", [("--as-split", "../../escaped"), ("--split", ""), ("--as-split", ".hidden"), ("--as-split", "a/b")]
)
def test_import_split_names_cannot_leave_the_output(tmp_path, flags):
    src = write_rows(tmp_path / "in" / "rows.jsonl", [record(0)])
    out = tmp_path / "deep" / "er" / "O"
    before = tree(tmp_path)
    one_line(seethink("data", "import", src, "--out", out, *flags, check=False), "split name")
    assert tree(tmp_path) == before


# --- bare tracebacks where one line is promised --------------------------------------------------------------


def test_non_utf8_bytes_are_one_line_in_recipes_records_and_configs(tmp_path):
    (tmp_path / "r.yaml").write_bytes(b"name: caf\xe9\n")
    one_line(seethink("train", tmp_path / "r.yaml", "--dry-run", check=False), "r.yaml", "not UTF-8")
    (tmp_path / "test.jsonl").write_bytes(json.dumps(record(0)).encode() + b'\n{"id": "\xff"}\n')
    one_line(seethink("eval", "--data", tmp_path / "test.jsonl", check=False), "test.jsonl", "not UTF-8")
    write_rows(tmp_path / "test.jsonl", [record(0)])
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_bytes(b'{"model_type": "llava\xff"}')
    one_line(seethink("eval", model, "--data", tmp_path / "test.jsonl", check=False), "config.json", "not UTF-8")


def test_a_5000_digit_integer_answer_is_one_line(tmp_path):
    (tmp_path / "test.jsonl").write_text(
        '{"id": "a", "problem": "big?", "answer": ' + "9" * 5000 + ', "capability": "text_reasoning"}\n'
    )
    one_line(seethink("eval", "--data", tmp_path / "test.jsonl", check=False), "test.jsonl:1")


def test_an_image_whose_header_claims_20000_squared_is_one_line(tmp_path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
    (tmp_path / "huge.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )
    write_rows(tmp_path / "test.jsonl", [record(0, capability="perception", images=["huge.png"])])
    one_line(seethink("eval", "--data", tmp_path / "test.jsonl", check=False), "huge.png")


@pytest.mark.parametrize("key", ["merged_from", "based_on"])
def test_a_recipe_deriving_from_itself_is_one_line(tmp_path, key):
    (tmp_path / "a.yaml").write_text(f"name: a\n{key}: b.yaml\n")
    (tmp_path / "b.yaml").write_text(f"name: b\n{key}: a.yaml\n")
    one_line(seethink("train", tmp_path / "a.yaml", "--dry-run", check=False), key, "derive from themselves")
    (tmp_path / "c.yaml").write_text(f"name: c\n{key}: c.yaml\n")
    one_line(seethink("train", tmp_path / "c.yaml", "--dry-run", check=False), key)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--dry-run", "--set", "seed=-5"], "seed: must be in [0, 2**32)"),
        (["passk", "--data", "{tmp}", "--temperature", "inf"], "finite"),
        (["eval", "--data", "{tmp}", "--temperature", "nan"], "finite"),
        (["world", "show", "{world}", "--out", "{tmp}"], "is a folder"),
    ],
)
def test_values_that_used_to_fail_late_are_one_line_now(tmp_path, world_dir, args, needle):
    write_rows(tmp_path / "train.jsonl", [record(0)])
    write_rows(tmp_path / "test.jsonl", [record(0)])
    one_line(seethink(*[a.format(tmp=tmp_path, world=world_dir) for a in args], check=False), needle)


def test_endpoint_timeout_nan_is_one_line(tmp_path):
    write_rows(tmp_path / "test.jsonl", [record(0, options=["1", "2"], answer="A")])
    p = seethink(
        "data",
        "filter",
        tmp_path / "test.jsonl",
        "--split",
        "test",
        "--out",
        tmp_path / "o",
        "--blind",
        "http://127.0.0.1:9::m",
        check=False,
        env={**os.environ, "SEETHINK_ENDPOINT_TIMEOUT": "nan"},
    )
    one_line(p, "SEETHINK_ENDPOINT_TIMEOUT")


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    p = seethink("train", tmp_path / "bomb.yaml", "--dry-run", check=False, timeout=60)
    one_line(p, "bomb.yaml", "aliases are expanded")
    gk = "{" + ", ".join(f"k{i}: *b" for i in range(9)) + "}"
    p = seethink("train", "--dry-run", "--set", f"stages.0.trl.generation_kwargs={gk}", check=False, timeout=60)
    assert p.returncode in (0, 2) and "Traceback" not in p.stderr  # small enough, or refused: never a hang
    (tmp_path / "deep.yaml").write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    one_line(seethink("train", tmp_path / "deep.yaml", "--dry-run", check=False, timeout=60), "deep.yaml")


def test_report_reads_a_run_whose_metrics_have_a_torn_last_line(tmp_path):
    run = tmp_path / "run"
    (run / "stages" / "1-s").mkdir(parents=True)
    (run / "recipe.yaml").write_text("name: r\nstages:\n- name: s\n  algorithm: grpo\n")
    (run / "stages" / "1-s" / "metrics.jsonl").write_text('{"step": 1, "reward": 0.5}\n{"step": 2, "rew')
    p = seethink("report", run, "--out", tmp_path / "rep", check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    (run / "stages" / "1-s" / "metrics.jsonl").write_text('{"step": 1, "rew\n{"step": 2, "reward": 0.5}\n')
    one_line(seethink("report", run, "--out", tmp_path / "rep", check=False), "metrics.jsonl:1")


# --- bad data silently accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, needle",
    [
        (record(0, answer="  "), "'answer' is empty"),
        (record(0, options=["1", "2", "3", "4"], answer="E"), "not one of the option letters A–D"),
        (record(0, problem="x" * 500_000), "'problem' has 500,000 characters"),
        (record(0, images=["a.png"] * 40), "lists 40 images"),
    ],
)
def test_records_that_would_train_or_score_nonsense_are_refused(tmp_path, row, needle):
    write_rows(tmp_path / "test.jsonl", [row])
    one_line(seethink("eval", "--data", tmp_path / "test.jsonl", check=False), "test.jsonl:1", needle)


def test_weights_that_do_not_match_their_config_are_refused(tmp_path):
    import shutil

    bad = tmp_path / "m"
    shutil.copytree(base_path(), bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["text_config"]["num_hidden_layers"] += 1
    (bad / "config.json").write_text(json.dumps(cfg))
    write_rows(tmp_path / "test.jsonl", [record(0)])
    one_line(
        seethink("eval", bad, "--data", tmp_path / "test.jsonl", check=False), "do not match config.json", "missing"
    )
