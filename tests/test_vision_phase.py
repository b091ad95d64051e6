"""Pretraining with the vision tower frozen for a first phase, then trained at a lower learning rate (base v5)."""

import pytest
from conftest import seethink
from safetensors.torch import load_file

from seethink.errors import SeethinkError
from seethink.miniature.pretrain_config import PretrainConfig
from seethink.miniature.vision_phase import cosine, is_tower_param, tower_factor

SMALL = {"captions": 40, "perception": 40, "visual_reasoning": 40, "text_reasoning": 40}


def test_the_tower_factor_is_zero_while_frozen_then_warms_up_to_its_share_of_the_cosine():
    assert [tower_factor(s, frozen=10, scale=0.1, warmup=4, total=40) for s in (0, 5, 9)] == [0.0, 0.0, 0.0]
    assert tower_factor(10, 10, 0.1, 4, 40) == pytest.approx(0.1 * cosine(10, 4, 40) / 4)
    assert tower_factor(13, 10, 0.1, 4, 40) == pytest.approx(0.1 * cosine(13, 4, 40))
    assert tower_factor(40, 10, 0.1, 4, 40) == 0.0
    assert cosine(0, 4, 40) == 0 and cosine(4, 4, 40) == 1 and cosine(22, 4, 40) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "given, says",
    [
        ({"vision_frozen_steps": -1}, "vision_frozen_steps: must be a whole number in"),
        ({"vision_frozen_steps": 10, "steps": 5}, r"vision_frozen_steps: .*steps=5"),
        ({"vision_frozen_steps": 2.5}, "vision_frozen_steps"),
        ({"vision_lr_scale": -0.1}, r"vision_lr_scale: must be in \[0, 10\]"),
    ],
)
def test_bad_vision_phase_settings_are_one_line(given, says):
    with pytest.raises(SeethinkError, match=says):
        PretrainConfig(**given)


def _tensors(folder):
    return load_file(folder / "model.safetensors")


def _pretrain(tmp_path, name, **kw):
    from seethink.miniature.pretrain import pretrain

    cfg = PretrainConfig(steps=4, batch_size=4, mix=SMALL, warmup_steps=1, world={"families": "v5"}, **kw)
    return _tensors(pretrain(tmp_path / name, cfg))


@pytest.mark.slow
def test_a_frozen_tower_keeps_its_starting_weights_and_is_trained_after_the_freeze(tmp_path):
    frozen = _pretrain(tmp_path, "frozen", vision_frozen_steps=4)
    start = _pretrain(tmp_path, "start", lr=1e-9)  # a tower that barely moves: the starting weights to 1e-6
    thawed = _pretrain(tmp_path, "thawed", vision_frozen_steps=2, vision_lr_scale=0.5)
    plain = _pretrain(tmp_path, "plain")
    tower = [k for k in frozen if is_tower_param(k)]
    rest = [k for k in frozen if not is_tower_param(k)]
    assert tower and rest
    assert max((frozen[k] - start[k]).abs().max().item() for k in tower) < 1e-5  # frozen: as built
    assert max((frozen[k] - start[k]).abs().max().item() for k in rest) > 1e-3  # the rest learned
    moved = max((thawed[k] - start[k]).abs().max().item() for k in tower)
    assert 1e-5 < moved < max((plain[k] - start[k]).abs().max().item() for k in tower)


@pytest.mark.slow
def test_a_run_killed_at_the_end_of_the_freeze_resumes_to_identical_weights(tmp_path):
    from test_faults import kill_during, leftovers

    config = tmp_path / "phased.yaml"
    config.write_text("vision_frozen_steps: 12\nvision_lr_scale: 0.2\nworld: {families: v5}\n")
    args = ["pretrain", "--config", config, "--steps", 24, "--batch-size", 8, "--data-scale", 0.004, "--out"]
    seethink(*args, tmp_path / "ref")
    work = tmp_path / ".b.work"
    kill_during([*args, tmp_path / "b"], lambda: (work / "checkpoint-12" / "trainer_state.json").is_file())
    assert (work / "checkpoint-12").is_dir()
    seethink(*args, tmp_path / "b")
    assert (tmp_path / "b" / "model.safetensors").read_bytes() == (tmp_path / "ref" / "model.safetensors").read_bytes()
    assert not leftovers(tmp_path)
