"""Atomic writes: complete or absent, and with the usual permissions (not mkstemp's private 0600)."""

import os

import pytest

from seethink.fileio import atomic_dir, atomic_path, write_json


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_failed_writes_leave_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as t:
            t.write_text("half")
            raise RuntimeError
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("half")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_an_existing_folder_whole(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old").write_text("x")
    with atomic_dir(tmp_path / "d") as d:
        (d / "new").write_text("y")
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def _hold(lock, log, tag):
    import time

    from seethink.fileio import held_lock

    with held_lock(lock):
        with open(log, "a") as f:
            f.write(f"{tag} in\n")
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write(f"{tag} out\n")


def test_a_held_lock_makes_processes_take_turns(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(tmp_path / ".lock", tmp_path / "log", t)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    lines = (tmp_path / "log").read_text().split()
    events = [" ".join(lines[i:i + 2]) for i in range(0, len(lines), 2)]
    assert len(events) == 4
    assert events[0].split()[0] == events[1].split()[0]  # the first holder leaves before the second enters
    assert events[1].endswith("out") and events[2].endswith("in")


def test_two_runs_on_one_output_folder_build_the_world_once(tmp_path, monkeypatch):
    import seethink.resolve as resolve

    built = []

    def fake_build(root, seed, sizes):
        built.append(root)
        root.mkdir(parents=True)
        (root / "world.json").write_text("{}")

    monkeypatch.setattr(resolve, "build_world", fake_build)
    root = tmp_path / "runs" / "world-seed0"
    resolve._build_once(root, 0)
    resolve._build_once(root, 0)  # a second run that waited on the lock finds it built
    assert built == [root]
    assert resolve.builtin_world(root, 0) == root
