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
