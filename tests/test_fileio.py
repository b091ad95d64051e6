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
    events = [" ".join(lines[i : i + 2]) for i in range(0, len(lines), 2)]
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


HOLDER = """
import sys, time
from seethink.fileio import writer_lock
with writer_lock(sys.argv[1], "seethink test-holder"):
    print("held", flush=True)
    time.sleep(600)
"""


def _start_holder(target):
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(target)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_second_writer_stops_at_once_and_a_dead_writers_lock_is_taken_over(tmp_path, capsys):
    from seethink.errors import SeethinkError
    from seethink.fileio import writer_lock

    out = tmp_path / "runs" / "a"
    holder = _start_holder(out)
    try:
        with pytest.raises(SeethinkError, match=rf"is being written by pid {holder.pid} on .*seethink test-holder"):
            with writer_lock(out, "seethink train"):
                pass
        with writer_lock(tmp_path / "runs" / "b", "seethink train"):  # another name in the same folder: no conflict
            pass
    finally:
        holder.kill()
        holder.wait()
    with writer_lock(out, "seethink train"):  # killed: its note is stale, the flock died with it
        pass
    assert f"left locked by pid {holder.pid}" in capsys.readouterr().err
    with writer_lock(out, "seethink train"):  # released cleanly: no notice
        pass
    assert capsys.readouterr().err == ""


def test_a_lock_from_another_host_counts_until_its_heartbeat_is_old(tmp_path, capsys):
    import json
    import time

    from seethink.errors import SeethinkError
    from seethink.fileio import writer_lock

    lock = tmp_path / ".out.writer"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid", "command": "seethink train", "started": "x"}))
    with pytest.raises(SeethinkError, match="elsewhere.invalid .*heartbeat"):
        with writer_lock(tmp_path / "out", "seethink eval", stale_after=60):
            pass
    os.utime(lock, (time.time() - 120, time.time() - 120))
    with writer_lock(tmp_path / "out", "seethink eval", stale_after=60):
        assert json.loads(lock.read_text())["command"] == "seethink eval"
    assert "left locked by pid 1 on elsewhere.invalid" in capsys.readouterr().err
