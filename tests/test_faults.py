"""Fault injection through the real command line.

Bad input: one line naming the file, row or field, exit status 2, no traceback, nothing written.
SIGKILL at random moments (seeded) and at checkpoints: rerunning the same command finishes with exactly
the result of an uninterrupted run, and no partial file is left or picked up.
NaN loss: the stage stops with a clear message; the checkpoints before it are kept.
"""

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import seethink, small_rounds

from seethink.cli import main
from seethink.miniature.base import base_path

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


# ---------------------------------------------------------------- bad input


def _record(world: Path) -> dict:
    rec = json.loads((world / "visual_reasoning" / "test.jsonl").read_text().splitlines()[0])
    rec["images"] = [str(world / "visual_reasoning" / p) for p in rec["images"]]
    return rec


def _dataset(tmp: Path, rows=None, raw: str | None = None) -> Path:
    d = tmp / "data"
    d.mkdir()
    (d / "test.jsonl").write_text(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows))
    return d


def _parquet(tmp: Path, columns: dict) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp / "data"
    d.mkdir()
    pq.write_table(pa.table(columns), d / "test.parquet")
    return d


def _model_copy(tmp: Path, damage) -> Path:
    m = tmp / "model"
    shutil.copytree(base_path(), m)
    damage(m)
    return m


def _png(tmp: Path, data: bytes) -> str:
    (tmp / "img.png").write_bytes(data)
    return str(tmp / "img.png")


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# each case: (world, tmp) -> (argv, message that must appear)
EVAL = ["eval", "--max-new-tokens", "8", "--out"]
BAD_INPUT = {
    "truncated image": lambda w, t: (
        EVAL
        + [
            t / "out",
            "--data",
            _dataset(t, [{**_record(w), "images": [_png(t, Path(_record(w)["images"][0]).read_bytes()[:60])]}]),
        ],
        "is corrupt or truncated",
    ),
    "text file as image": lambda w, t: (
        EVAL + [t / "out", "--data", _dataset(t, [{**_record(w), "images": [_png(t, b"not an image")]}])],
        "is corrupt or truncated",
    ),
    "missing image": lambda w, t: (
        EVAL + [t / "out", "--data", _dataset(t, [{**_record(w), "images": ["gone.png"]}])],
        "test.jsonl:1: image file",
    ),
    "malformed JSONL line": lambda w, t: (
        EVAL + [t / "out", "--data", _dataset(t, raw=json.dumps(_record(w)) + "\n{x\n")],
        "test.jsonl:2: malformed JSON",
    ),
    "missing field": lambda w, t: (
        EVAL + [t / "out", "--data", _dataset(t, [{**_record(w), "answer": None}])],
        "test.jsonl:1: missing required field 'answer'",
    ),
    "wrong field type": lambda w, t: (
        EVAL + [t / "out", "--data", _dataset(t, [{**_record(w), "problem": ["x"]}])],
        "field 'problem' must be str",
    ),
    "facts not objects": lambda w, t: (
        EVAL + [t / "out", "--data", _dataset(t, [{**_record(w), "facts": ["3"]}])],
        "field 'facts' must be a list of objects",
    ),
    "pass_rate out of range": lambda w, t: (
        EVAL + [t / "out", "--data", _dataset(t, [{**_record(w), "pass_rate": 2}])],
        "field 'pass_rate' must be a number in [0, 1]",
    ),
    "duplicate id": lambda w, t: (EVAL + [t / "out", "--data", _dataset(t, [_record(w)] * 2)], "duplicate id"),
    "empty dataset": lambda w, t: (EVAL + [t / "out", "--data", _dataset(t, raw="")], "test.jsonl: no records"),
    "empty split in a world": lambda w, t: (
        EVAL + [t / "out", "--data", _empty_split(w, t)],
        "perception/test.jsonl: no records",
    ),
    "parquet wrong column type": lambda w, t: (
        EVAL
        + [
            t / "out",
            "--data",
            _parquet(t, {"id": ["a"], "problem": [3], "answer": ["1"], "capability": ["text_reasoning"]}),
        ],
        "test.parquet: row 0: field 'problem' must be str, got int",
    ),
    "corrupt parquet": lambda w, t: (
        EVAL + [t / "out", "--data", _garbage(t / "data" / "test.parquet")],
        "not a readable parquet file",
    ),
    "model path is a file": lambda w, t: (
        ["eval", _garbage(t / "m.bin"), "--data", w],
        "is not a Hugging Face model folder",
    ),
    "model config malformed": lambda w, t: (
        ["eval", _model_copy(t, lambda m: (m / "config.json").write_text("{")), "--data", w],
        "config.json: malformed JSON",
    ),
    "model weights truncated": lambda w, t: (
        EVAL + [t / "out", _model_copy(t, lambda m: _truncate(m / "model.safetensors")), "--data", w],
        "model.safetensors is truncated",
    ),
    "model weights missing": lambda w, t: (
        EVAL + [t / "out", _model_copy(t, lambda m: (m / "model.safetensors").unlink()), "--data", w],
        "cannot load model weights",
    ),
    "output folder is a file": lambda w, t: (
        ["eval", "--data", w, "--out", _garbage(t / "f")],
        "exists and is not a directory",
    ),
    "output folder cannot be created": lambda w, t: (
        ["eval", "--data", w, "--out", "/proc/seethink-test/out"],
        "cannot create output directory /proc/seethink-test",
    ),
    "recipe: unknown key": lambda w, t: (["train", "--set", "stages.0.stepz=1"], "stages.0.stepz: unknown key"),
    "recipe: typo in a stage's data": lambda w, t: (
        ["train", "--set", f"data={w}", "--set", f"output_dir={t}", "--set", "stages.1.data.0.path=text_reasonin"],
        "stage text_reasoning: data text_reasonin",
    ),
    "recipe: wrong type": lambda w, t: (["train", "--set", "stages.0.lr=fast"], "stages.0.lr: expected a number"),
    "recipe: zero budget": lambda w, t: (["train", "--set", "stages.2.steps=0"], "stages.2.steps: must be > 0"),
    "recipe: negative budget": lambda w, t: (["train", "--set", "stages.0.steps=-3"], "stages.0.steps: must be > 0"),
    "recipe: group size does not divide the batch": lambda w, t: (
        ["train", "--set", "stages.0.num_generations=5"],
        "not divisible by num_generations=5",
    ),
    "recipe: a folder": lambda w, t: (["train", t], "is a folder, not a YAML file"),
    "recipe: a bad row in the last stage's data": lambda w, t: (
        ["train", "--set", f"data={_bad_last_stage(w, t)}", "--set", f"output_dir={t / 'runs'}"],
        "visual_reasoning/train.jsonl:3: malformed JSON",
    ),
    "pass@K at temperature 0": lambda w, t: (
        ["passk", "--data", w / "perception", "--temperature", "0"],
        "--temperature must be in (0, 100]",
    ),
    "pretrain into a file": lambda w, t: (
        ["pretrain", "--out", _garbage(t / "f"), "--steps", "1"],
        "exists and is not a directory",
    ),
    "report of a non-run": lambda w, t: (["report", t, "--out", t / "r"], "is not a seethink run folder"),
}


def _garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1\x00garbage")
    return path


def _empty_split(world: Path, tmp: Path) -> Path:
    out = tmp / "world"
    shutil.copytree(world, out, ignore=shutil.ignore_patterns("images"))
    (out / "perception" / "test.jsonl").write_text("")
    return out


def _bad_last_stage(world: Path, tmp: Path) -> Path:
    out = tmp / "world"
    shutil.copytree(world, out, symlinks=True, ignore=shutil.ignore_patterns("images"))
    for name in ("perception", "text_reasoning", "visual_reasoning"):
        if (world / name / "images").exists():
            (out / name / "images").symlink_to(world / name / "images")
    lines = (out / "visual_reasoning" / "train.jsonl").read_text().splitlines()
    lines[2] = lines[2][:40]  # a row cut off
    (out / "visual_reasoning" / "train.jsonl").write_text("\n".join(lines) + "\n")
    return out


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, world_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, msg = BAD_INPUT[case](world_dir, tmp_path)
    before = _files(tmp_path)
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = [
        line for line in capsys.readouterr().err.splitlines() if line.strip() and not line.startswith("Loading weights")
    ]  # transformers' own bar when a model loads
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("seethink: error: "), err
    assert msg in err[0], err
    written = _files(tmp_path) - before
    assert not written, f"{case} wrote {sorted(written)}"


def test_pathological_gold_answers_are_scored_quickly(world_dir, tmp_path):
    """Rewards meet hostile strings through a real evaluation: each is scored (0) and the run ends quickly."""
    golds = ["9" * 5000, "{" * 10000, "\\boxed{" * 2500, "2^{2^{2^{2^{100}}}}", "\\frac{1}{0}", "100!", "<think>" * 500]
    rec = _record(world_dir)
    d = _dataset(tmp_path, [{**rec, "id": f"p{i}", "answer": g, "options": None} for i, g in enumerate(golds)])
    t = time.perf_counter()
    assert main(["eval", "--data", str(d), "--max-new-tokens", "8", "--out", str(tmp_path / "out")]) == 0
    assert time.perf_counter() - t < 60
    rows = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [r["accuracy"] for r in rows] == [0.0] * len(golds)


# ---------------------------------------------------------------- kill and rerun


def kill_during(args, when, cwd=None, timeout: float = 300) -> float:
    """Run the command and SIGKILL its whole process group when `when` (seconds, or a predicate polled every
    10 ms) says so; returns the moment of the kill. A command that ends first is fine (nothing to resume)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "seethink", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=cwd,
    )
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < timeout:
        if when() if callable(when) else time.time() - t0 >= when:
            break
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return time.time() - t0


def digest(root: Path, skip=()) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((".tmp", ".old"))]


def random_moments(seed: str, duration: float, n: int = 2) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.uniform(0.1, 0.9) * duration, 2) for _ in range(n)]


@pytest.mark.slow
def test_world_build_killed_at_random_moments(tmp_path):
    args = ["world", "build", "--seed", 5, "--train", 500, "--validation", 50, "--test", 50, "--out"]
    t = time.time()
    seethink(*args, tmp_path / "ref")
    duration = time.time() - t  # about 2 s
    for i, moment in enumerate(random_moments("world", duration, n=3)):
        out = tmp_path / f"w{i}"
        kill_during([*args, out], moment)
        seethink(*args, out)
        assert digest(out) == digest(tmp_path / "ref"), f"killed at {moment}s"
        assert not leftovers(tmp_path)


@pytest.mark.slow
def test_pretrain_killed_mid_run_resumes_to_identical_weights(tmp_path):
    args = ["pretrain", "--steps", 24, "--batch-size", 8, "--data-scale", 0.004, "--out"]
    seethink(*args, tmp_path / "ref")
    work = tmp_path / ".b.work"
    kill_during([*args, tmp_path / "b"], lambda: (work / "checkpoint-12" / "trainer_state.json").is_file())
    assert (work / "checkpoint-12").is_dir()
    p = seethink(*args, tmp_path / "b")
    assert json.loads((tmp_path / "b" / "pretrain_stats.json").read_text())["resumed"], p.stdout
    assert (tmp_path / "b" / "model.safetensors").read_bytes() == (tmp_path / "ref" / "model.safetensors").read_bytes()
    assert not work.exists()
    assert not leftovers(tmp_path)


@pytest.mark.slow
def test_grpo_stage_killed_after_an_in_stage_checkpoint_resumes_exactly(world_dir, tmp_path):
    """The resumed stage loads the checkpoint's weights (transformers 5.23 alone silently keeps the starting
    weights of LLaVA-style models), so weights and per-step metrics equal an uninterrupted run's."""

    def args(out):
        return [
            "train",
            RECIPES / "stage3-only.yaml",
            *small_rounds(RECIPES / "stage3-only.yaml"),
            "--set",
            f"data={world_dir}",
            "--set",
            f"output_dir={out}",
            "--set",
            "eval.limit=4",
            "--set",
            "eval.max_new_tokens=8",
            "--set",
            "stages.0.steps=8",
        ]

    seethink(*args(tmp_path / "ref"))
    stage = "stage3-only/stages/1-visual_reasoning"
    ckpt = tmp_path / "b" / stage / "work" / "checkpoint-4" / "trainer_state.json"
    kill_during(args(tmp_path / "b"), ckpt.is_file)
    assert list(ckpt.parents[1].glob("checkpoint-*"))
    assert not (tmp_path / "b" / stage / "checkpoint").exists()
    seethink(*args(tmp_path / "b"))
    ref, got = tmp_path / "ref" / stage, tmp_path / "b" / stage
    assert (got / "metrics.jsonl").read_text() == (ref / "metrics.jsonl").read_text()
    assert (got / "checkpoint" / "model.safetensors").read_bytes() == (
        ref / "checkpoint" / "model.safetensors"
    ).read_bytes()
    assert not leftovers(tmp_path)


@pytest.mark.slow
def test_a_damaged_in_stage_checkpoint_is_set_aside_and_the_stage_restarts_cleanly(world_dir, tmp_path):
    """A checkpoint that was complete and then damaged (here: its weights cut in half) is never resumed from: the
    rerun says so in one line and ends with exactly the weights of an uninterrupted run."""

    def args(out):
        return [
            "train",
            RECIPES / "stage3-only.yaml",
            *small_rounds(RECIPES / "stage3-only.yaml"),
            "--set",
            f"data={world_dir}",
            "--set",
            f"output_dir={out}",
            "--set",
            "eval.limit=4",
            "--set",
            "eval.max_new_tokens=8",
            "--set",
            "stages.0.steps=8",
        ]

    seethink(*args(tmp_path / "ref"))
    stage = "stage3-only/stages/1-visual_reasoning"
    ckpt = tmp_path / "b" / stage / "work" / "checkpoint-4"
    kill_during(args(tmp_path / "b"), (ckpt / "trainer_state.json").is_file)
    _truncate(ckpt / "model.safetensors")
    p = seethink(*args(tmp_path / "b"))
    notes = [line for line in p.stderr.splitlines() if "is damaged" in line]
    # an older checkpoint the Trainer was rotating away when the kill came may be named too (it is half deleted)
    assert any("checkpoint-4 is damaged (model.safetensors is truncated" in n for n in notes), p.stderr
    ref, got = tmp_path / "ref" / stage, tmp_path / "b" / stage
    assert (got / "checkpoint" / "model.safetensors").read_bytes() == (
        ref / "checkpoint" / "model.safetensors"
    ).read_bytes()
    assert (got / "metrics.jsonl").read_text() == (ref / "metrics.jsonl").read_text()  # the killed run's rows are gone
    assert not (got / "work").exists()


def _stage3_args(world_dir, out):
    return [
        "train",
        RECIPES / "stage3-only.yaml",
        *small_rounds(RECIPES / "stage3-only.yaml"),
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={out}",
        "--set",
        "eval.limit=4",
        "--set",
        "eval.max_new_tokens=8",
        "--set",
        "stages.0.steps=8",
    ]


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs (room for one in-stage checkpoint of the tiny model, about 11 MB, not for two); `grow()`
    frees space by remounting it larger. Skipped where mounting is not allowed."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if p.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip() or p.returncode}")
    try:
        yield mnt, lambda: subprocess.run(["mount", "-o", "remount,size=200m", str(mnt)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_during_an_in_stage_checkpoint_is_one_line_and_the_rerun_finishes_identically(
    world_dir, tmp_path, small_disk
):
    mnt, grow = small_disk
    seethink(*_stage3_args(world_dir, tmp_path / "ref"))
    p = seethink(*_stage3_args(world_dir, mnt), check=False)
    assert p.returncode == 2, p.stderr
    err = [line[line.index("seethink: error") :] for line in p.stderr.splitlines() if "seethink: error" in line]
    assert len(err) == 1 and "no space left on device under" in err[0] and str(mnt) in err[0], p.stderr
    assert "Traceback" not in p.stderr
    work = mnt / "stage3-only" / "stages" / "1-visual_reasoning" / "work"
    kept = list(work.glob("checkpoint-*"))
    assert kept and all((c / "trainer_state.json").is_file() for c in kept)  # no half-written checkpoint
    from seethink.models.checkpoints import checkpoint_problem

    assert all(checkpoint_problem(c) is None for c in kept)  # the previous good checkpoint is intact
    grow()
    seethink(*_stage3_args(world_dir, mnt))
    stage = "stage3-only/stages/1-visual_reasoning"
    got, ref = mnt / stage, tmp_path / "ref" / stage
    assert (got / "checkpoint" / "model.safetensors").read_bytes() == (
        ref / "checkpoint" / "model.safetensors"
    ).read_bytes()
    assert (got / "metrics.jsonl").read_text() == (ref / "metrics.jsonl").read_text()
    assert not leftovers(mnt)


@pytest.mark.slow
def test_a_full_disk_while_the_final_checkpoint_is_written_leaves_no_half_folder(
    world_dir, tmp_path, capsys, monkeypatch
):
    """Injected in process: the stage's final save writes part of a file and then hits ENOSPC."""
    import errno

    import seethink.train.stage as stage_module

    seethink(*_stage3_args(world_dir, tmp_path / "ref"))

    class Full:
        def __init__(self, model):
            self.model = model

        def save_pretrained(self, folder, *a, **kw):
            (Path(folder) / "model.safetensors").write_bytes(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device", str(Path(folder) / "model.safetensors"))

    monkeypatch.setattr(stage_module, "merged", Full)
    assert main([str(a) for a in _stage3_args(world_dir, tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "seethink: error: no space left on device under" in err and "Traceback" not in err
    stage_dir = tmp_path / "b" / "stage3-only" / "stages" / "1-visual_reasoning"
    assert not (stage_dir / "checkpoint").exists() and not leftovers(tmp_path / "b")
    assert any(c.is_dir() for c in (stage_dir / "work").glob("checkpoint-*"))  # the in-stage checkpoints are kept
    monkeypatch.undo()
    assert main([str(a) for a in _stage3_args(world_dir, tmp_path / "b")]) == 0
    ref = tmp_path / "ref" / "stage3-only" / "stages" / "1-visual_reasoning"
    assert (stage_dir / "checkpoint" / "model.safetensors").read_bytes() == (
        ref / "checkpoint" / "model.safetensors"
    ).read_bytes()


def _scratch_dataset(world: Path, tmp: Path, name: str) -> Path:
    d = tmp / name
    d.mkdir()
    shutil.copy(world / "perception" / "validation.jsonl", d / "validation.jsonl")
    (d / "images").symlink_to(world / "perception" / "images")
    return d


@pytest.mark.slow
def test_passk_killed_at_random_moments_gives_the_same_pass_rates(world_dir, tmp_path):
    args = ["--split", "validation", "--k", 4, "--batch-size", 4, "--max-new-tokens", 24, "--data"]
    ref = _scratch_dataset(world_dir, tmp_path, "ref")
    t = time.time()
    seethink("passk", *args, ref)
    duration = time.time() - t
    for i, moment in enumerate(random_moments("passk", duration)):
        d = _scratch_dataset(world_dir, tmp_path, f"d{i}")
        kill_during(["passk", *args, d], moment)
        seethink("passk", *args, d)
        assert (d / "validation.jsonl").read_bytes() == (ref / "validation.jsonl").read_bytes(), f"killed at {moment}s"
        assert not list(d.glob(".*")), "the progress file is removed when done"


@pytest.mark.slow
def test_eval_killed_at_random_moments_gives_the_same_outputs(world_dir, tmp_path):
    args = ["eval", "--data", world_dir, "--split", "validation", "--max-new-tokens", 24, "--attribute", "--out"]
    t = time.time()
    seethink(*args, tmp_path / "ref")
    duration = time.time() - t
    timing = {"seconds", "samples_per_second"}
    ref = {k: v for k, v in json.loads((tmp_path / "ref" / "summary.json").read_text()).items() if k not in timing}
    for i, moment in enumerate(random_moments("eval", duration)):
        out = tmp_path / f"e{i}"
        kill_during([*args, out], moment)
        seethink(*args, out)
        got = {k: v for k, v in json.loads((out / "summary.json").read_text()).items() if k not in timing}
        assert got == ref, f"killed at {moment}s"
        assert digest(out, skip={"summary.json"}) == digest(tmp_path / "ref", skip={"summary.json"})
        assert not leftovers(out)


# ---------------------------------------------------------------- NaN loss


@pytest.mark.slow
def test_nan_loss_stops_the_stage_and_keeps_earlier_checkpoints(world_dir, tmp_path, capsys, monkeypatch):
    """Stage 2 of a two-stage run diverges at its third step: exit 2 with one line naming the stage and step;
    stage 1's checkpoint is untouched, stage 2 leaves no checkpoint and no in-stage checkpoints behind."""
    import torch
    from trl import GRPOTrainer

    from seethink.train.stage import is_complete

    original = GRPOTrainer.compute_loss

    def diverging(self, model, inputs, *a, **kw):
        loss = original(self, model, inputs, *a, **kw)
        if self.args.max_steps == 6 and self.state.global_step >= 2:
            return loss * torch.tensor(float("nan"))
        return loss

    monkeypatch.setattr(GRPOTrainer, "compute_loss", diverging)
    argv = [
        str(RECIPES / "staged.yaml"),
        *small_rounds(RECIPES / "staged.yaml"),
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "eval.limit=4",
        "--set",
        "eval.max_new_tokens=8",
        "--set",
        "stages.0.steps=4",
        "--set",
        "stages.1.steps=6",
        "--set",
        "stages.2.steps=2",
    ]
    capsys.readouterr()
    assert main(["train", *argv]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("seethink: error:")]
    assert len(err) == 1
    assert "stage text_reasoning: loss became NaN/inf at step 3" in err[0]
    stages = tmp_path / "staged" / "stages"
    assert is_complete(stages / "1-perception")
    assert not (stages / "2-text_reasoning" / "checkpoint").exists()
    assert not (stages / "2-text_reasoning" / "work").exists()


# ---------------------------------------------------------------- MCQ synthesis


@pytest.mark.slow
def test_synth_perception_killed_mid_run_asks_nothing_twice(stub, tmp_path):
    from test_data_tools import caption_rows, generator_reply

    def slow(text):
        time.sleep(0.05)
        return generator_reply(text)

    server = stub(slow)
    src = caption_rows(tmp_path, 80)
    args = ["data", "synth-perception", src, "--generator", server.url, "--generator-model", "g", "--seed", 2, "--out"]
    seethink(*args, tmp_path / "ref")
    assert len(server.requests) == 80
    cache = tmp_path / "run" / "generator_cache.jsonl"
    kill_during([*args, tmp_path / "run"], lambda: cache.is_file() and len(cache.read_text().splitlines()) >= 20)
    done, asked = len(cache.read_text().splitlines()), len(server.requests)
    assert 20 <= done < 80
    p = seethink(*args, tmp_path / "run")
    assert len(server.requests) - asked == 80 - done  # the rerun asked only what the killed run had not stored
    assert f"generator {server.url}/chat/completions: {80 - done} requests, 0 retried, 0 given up" in p.stdout
    assert digest(tmp_path / "run", skip={"generator_cache.jsonl"}) == digest(
        tmp_path / "ref", skip={"generator_cache.jsonl"}
    )
    assert not leftovers(tmp_path)


# ---------------------------------------------------------------- two writers on one output
# (`seethink experiment` locks each run, not its folder: tests/test_experiment.py has two processes share one)
@pytest.mark.parametrize("verb", ["train", "eval", "world build", "passk", "synth-perception", "filter"])
def test_a_second_writer_of_an_output_stops_at_once_naming_the_first(verb, world_dir, tmp_path):
    from test_fileio import _start_holder

    data = _scratch_dataset(world_dir, tmp_path, "scratch")
    args, target = {
        "train": (
            [
                "train",
                RECIPES / "stage3-only.yaml",
                "--set",
                f"data={world_dir}",
                "--set",
                f"output_dir={tmp_path / 'runs'}",
                "--set",
                "name=r",
            ],
            tmp_path / "runs" / "r",
        ),
        "eval": (["eval", "--data", world_dir, "--limit", 2, "--out", tmp_path / "ev"], tmp_path / "ev"),
        "world build": (["world", "build", "--out", tmp_path / "w", "--train", 2], tmp_path / "w"),
        "passk": (["passk", "--data", data, "--split", "validation", "--k", 2], data),
        "synth-perception": (
            [
                "data",
                "synth-perception",
                world_dir / "captions",
                "--generator",
                "http://127.0.0.1:9/v1",
                "--generator-model",
                "g",
                "--out",
                tmp_path / "mcq",
            ],
            tmp_path / "mcq",
        ),
        "filter": (
            ["data", "filter", data, "--split", "validation", "--dedup", "--out", tmp_path / "f"],
            tmp_path / "f",
        ),
    }[verb]
    holder = _start_holder(target)
    try:
        t = time.time()
        p = seethink(*args, check=False)
        assert p.returncode == 2
        assert f"is being written by pid {holder.pid}" in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
        assert time.time() - t < 60
        assert not target.exists() or target == data
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------- hostile paths and names
@pytest.mark.slow
def test_paths_and_names_with_spaces_quotes_substitutions_and_non_ascii_work(tmp_path, monkeypatch):
    """Every verb takes such paths as plain strings: nothing is run by a shell, nothing lands elsewhere."""
    monkeypatch.chdir(tmp_path)
    odd = tmp_path / "wörld $(touch pwned) 'q' \"dq\" `touch pwned2`"
    seethink("world", "build", "--out", odd, "--train", 8, "--validation", 4, "--test", 4)
    via_dotdot = odd / ".." / odd.name  # `..` inside a path resolves like any other component
    seethink("eval", "--data", via_dotdot, "--limit", 2, "--max-new-tokens", 8, "--out", odd / "ëval $(x)")
    assert (odd / "ëval $(x)" / "summary.json").is_file()
    name = "rün $(touch pwned3) 'q'"
    seethink(
        "train",
        RECIPES / "stage3-only.yaml",
        *small_rounds(RECIPES / "stage3-only.yaml"),
        "--set",
        f"data={odd}",
        "--set",
        f"output_dir={odd / 'rüns'}",
        "--set",
        f"name={name}",
        "--set",
        "eval.limit=2",
        "--set",
        "eval.max_new_tokens=8",
        "--set",
        "stages.0.steps=2",
    )
    assert (odd / "rüns" / name / "stages" / "1-visual_reasoning" / "checkpoint" / "model.safetensors").is_file()
    assert not list(tmp_path.rglob("pwned*")) and not list(Path.cwd().glob("pwned*"))
    for bad in ("../out", "a/b"):
        p = seethink("train", RECIPES / "stage3-only.yaml", "--set", f"name={bad}", "--dry-run", check=False)
        assert p.returncode == 2 and "name: must be a plain folder name" in p.stderr


@pytest.mark.slow
def test_two_runs_with_different_names_in_one_folder_both_finish(world_dir, tmp_path):
    base = [
        "train",
        RECIPES / "stage3-only.yaml",
        *small_rounds(RECIPES / "stage3-only.yaml"),
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path / 'runs'}",
        "--set",
        "eval.limit=2",
        "--set",
        "eval.max_new_tokens=8",
        "--set",
        "stages.0.steps=2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "seethink", *map(str, base), "--set", f"name={n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in ("a", "b")
    ]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    for n in ("a", "b"):
        assert (tmp_path / "runs" / n / "stages" / "1-visual_reasoning" / "checkpoint" / "model.safetensors").is_file()
    assert not list((tmp_path / "runs").glob(".*.writer"))  # released
