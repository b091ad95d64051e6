"""pass@K: batched sampling, pass rates written into the records, deterministic, resumable."""

import json
import shutil

import pytest

import seethink.eval.passk as pk
from seethink.miniature.base import base_path
from seethink.models.load import load_model
from seethink.records.io import load_records


@pytest.fixture(scope="module")
def base():
    return load_model(base_path())


def dataset_copy(world_dir, tmp_path, name="visual_reasoning"):
    """A private copy of one dataset's test split (pass@K rewrites the file in place)."""
    src = world_dir / name
    dst = tmp_path / name
    dst.mkdir(parents=True)
    shutil.copy(src / "test.jsonl", dst / "test.jsonl")
    (dst / "images").symlink_to(src / "images")
    return dst / "test.jsonl"


def rates(f):
    return {r["id"]: r["pass_rate"] for r in load_records(f)}


def test_pass_rates_are_written_into_the_records(base, world_dir, tmp_path):
    f = dataset_copy(world_dir, tmp_path)
    before = [json.loads(line) for line in f.read_text().splitlines()]
    out = pk.passk_file(*base, f, k=4, chunk=16, max_new_tokens=48)
    after = [json.loads(line) for line in f.read_text().splitlines()]
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert all(r["pass_rate"] in (0, 0.25, 0.5, 0.75, 1) for r in after)
    assert all({**a, "pass_rate": None} == b for a, b in zip(after, before))  # nothing else changed
    assert not pk.progress_path(f).exists()
    assert out["items"] == len(after)
    assert 0 < out["mean_pass_rate"] < 1  # the base is right sometimes, not always


def test_same_seed_same_rates_and_resume_recomputes_nothing_finished(base, world_dir, tmp_path, monkeypatch):
    full = dataset_copy(world_dir, tmp_path / "a")
    pk.passk_file(*base, full, k=4, chunk=8, max_new_tokens=48, seed=7)

    part = dataset_copy(world_dir, tmp_path / "b")
    calls = []
    real = pk.sample_correct

    def interrupted(model, processor, records, *a, **kw):
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run dies after three chunks
        calls.append(records[0]["id"])
        return real(model, processor, records, *a, **kw)

    monkeypatch.setattr(pk, "sample_correct", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pk.passk_file(*base, part, k=4, chunk=8, max_new_tokens=48, seed=7)
    prog = pk.progress_path(part)
    assert len(prog.read_text().splitlines()) == 1 + 3 * 8
    with open(prog, "a") as fh:
        fh.write('{"id": "cut off mid-wri')  # a kill during the append

    resumed = []
    monkeypatch.setattr(
        pk,
        "sample_correct",
        lambda m, p, records, *a, **kw: resumed.append(records[0]["id"]) or real(m, p, records, *a, **kw),
    )
    pk.passk_file(*base, part, k=4, chunk=8, max_new_tokens=48, seed=7)
    assert not set(resumed) & set(calls)  # finished chunks were not sampled again
    assert rates(part) == rates(full)  # and the result equals an uninterrupted run


def test_other_settings_refuse_to_resume(base, world_dir, tmp_path):
    f = dataset_copy(world_dir, tmp_path)
    pk.progress_path(f).write_text(json.dumps({"k": 99}) + "\n")
    with pytest.raises(pk.SeethinkError, match="other settings"):
        pk.passk_file(*base, f, k=4)


def test_top_k_1_samples_the_greedy_answer(base, world_dir, tmp_path):
    """With top_k = 1 all K samples are the greedy answer: every pass rate is 0 or 1 and equals greedy accuracy."""
    from seethink.eval.evaluate import evaluate

    f = dataset_copy(world_dir, tmp_path)
    pk.passk_file(*base, f, k=3, chunk=16, max_new_tokens=48, top_k=1)
    rows, _ = evaluate(*base, load_records(f), max_new_tokens=48, batch_size=16)
    assert rates(f) == {r["id"]: r["accuracy"] for r in rows}
    assert set(rates(f).values()) == {0.0, 1.0}


def test_bad_top_p_is_refused_before_anything_is_written(world_dir, tmp_path):
    f = dataset_copy(world_dir, tmp_path)
    with pytest.raises(pk.SeethinkError, match="--top-p must be in"):
        pk.passk(base_path(), f, "test", k=2, top_p=0)
    assert not pk.progress_path(f).exists()
