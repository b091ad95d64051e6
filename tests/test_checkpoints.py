"""Which in-run checkpoint a resume starts from: the newest complete and readable one; damaged ones are set aside."""

import json

import pytest
import torch
from safetensors.torch import save_file

from seethink.models.checkpoints import checkpoint_problem, last_checkpoint


def _checkpoint(work, step):
    c = work / f"checkpoint-{step}"
    c.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, c / "model.safetensors")
    torch.save({"state": {0: torch.ones(16)}}, c / "optimizer.pt")
    torch.save({"last_epoch": step}, c / "scheduler.pt")
    (c / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return c


def _truncate(f):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


DAMAGE = {
    "truncated weights": (lambda c: _truncate(c / "model.safetensors"), "model.safetensors is truncated"),
    "weights with trailing bytes": (
        lambda c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes() + b"x"),
        "model.safetensors is truncated",
    ),
    "garbage weights": (lambda c: (c / "model.safetensors").write_bytes(b"\xff" * 40), "not a readable safetensors"),
    "no weights": (lambda c: (c / "model.safetensors").unlink(), "no weights"),
    "no optimizer": (lambda c: (c / "optimizer.pt").unlink(), "no optimizer.pt"),
    "truncated optimizer": (lambda c: _truncate(c / "optimizer.pt"), "optimizer.pt is truncated"),
    "no scheduler": (lambda c: (c / "scheduler.pt").unlink(), "no scheduler.pt"),
    "garbled trainer state": (lambda c: (c / "trainer_state.json").write_text('{"global_st'), "not valid JSON"),
    "trainer state without step": (lambda c: (c / "trainer_state.json").write_text("{}"), "no global_step"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_newest_checkpoint_is_set_aside_and_the_one_before_is_resumed(tmp_path, capsys, case):
    damage, why = DAMAGE[case]
    good = _checkpoint(tmp_path, 4)
    bad = _checkpoint(tmp_path, 8)
    assert checkpoint_problem(bad) is None
    damage(bad)
    assert why in checkpoint_problem(bad)
    assert last_checkpoint(tmp_path, set_aside=False) == good  # other processes: skip, rename nothing, say nothing
    assert bad.is_dir() and capsys.readouterr().err == ""
    assert last_checkpoint(tmp_path, label="stage x: ") == good
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stage x: in-run checkpoint") and why in err[0]
    assert not bad.exists() and (tmp_path / "damaged-checkpoint-8").is_dir()
    assert last_checkpoint(tmp_path) == good and capsys.readouterr().err == ""  # said once


def test_only_damaged_checkpoints_mean_the_start_and_an_unfinished_save_is_skipped_quietly(tmp_path, capsys):
    _truncate(_checkpoint(tmp_path, 4) / "model.safetensors")
    (_checkpoint(tmp_path, 8) / "trainer_state.json").unlink()  # killed while saving: not damage
    assert last_checkpoint(tmp_path) is None
    err = capsys.readouterr().err
    assert "checkpoint-4" in err and "checkpoint-8" not in err
    assert (tmp_path / "checkpoint-8").is_dir()
