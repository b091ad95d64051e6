"""Online group filtering (`stages.k.filter_groups`): which groups a batch keeps, how scored batches of different
widths merge, where extra prompts come from, and a real stage trained with it."""

import json
import math

import pytest
import torch
from conftest import seethink
from test_train import RECIPES, smoke_args, stage3_rows

from seethink.algorithms.group_filter import group_signal, merge, picks, reserve_rows


def test_a_group_has_signal_when_an_advantage_is_more_than_rounding():
    adv = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.5, -0.5, 0.0, 0.0, 7e-5, -7e-5, 6e-4, 0.0, 0.0, 0.0, 0.0, 0.02])
    assert group_signal(adv, 4) == [False, True, False, True]
    with pytest.raises(ValueError, match="whole groups"):
        group_signal(adv, 5)


def test_groups_of_equal_rewards_have_no_signal_as_trl_scores_them():
    """TRL 1.16's group advantages of 8 equal rewards are float32 rounding, not 0 (0.9 * 0 + 0.1 * 1 gives 7e-5,
    0.9 * 1 + 0.1 * 0 gives 6e-4): the filter must see them as groups without signal (the first study run did not)."""
    from trl.trainer.utils import nanstd

    weights = torch.tensor([0.9, 0.1])
    per_func = torch.tensor([[0.0, 1.0]] * 8 + [[1.0, 0.0]] * 8 + [[1.0, 1.0]] * 8 + [[1.0, 1.0]] * 7 + [[0.0, 1.0]])
    rewards = (per_func * weights).nansum(dim=1)
    mean = torch.nanmean(rewards.view(-1, 8), dim=1).repeat_interleave(8)
    std = nanstd(rewards.view(-1, 8), dim=1).repeat_interleave(8)
    adv = (rewards - mean) / (std + 1e-4)
    assert adv[:16].abs().max() > 0  # not exactly zero
    assert group_signal(adv, 8) == [False, False, False, True]


def test_signal_groups_come_first_in_draw_order_then_the_first_draws_zero_groups():
    assert picks([[True, False, True, False]], 4) == [(0, 0), (0, 2), (0, 1), (0, 3)]
    assert picks([[False, True, False], [True, True, False]], 3) == [(0, 1), (1, 0), (1, 1)]
    assert picks([[False, False], [False, True]], 2) == [(1, 1), (0, 0)]
    assert picks([[True, True], [True, True]], 2) == [(0, 0), (0, 1)]


def test_the_reserve_is_a_function_of_the_batch_and_lies_just_after_it():
    one = [("perception", 1)] * 40
    a = reserve_rows(first=8, size=4, kinds=one, seed=0, attempt=1)
    assert a == reserve_rows(first=8, size=4, kinds=one, seed=0, attempt=1)
    assert len(set(a)) == 4 and all(12 <= r < 28 for r in a)
    assert a != reserve_rows(first=8, size=4, kinds=one, seed=0, attempt=2)
    assert a != reserve_rows(first=8, size=4, kinds=one, seed=1, attempt=1)
    wrapped = reserve_rows(first=36, size=4, kinds=one, seed=0, attempt=1)
    assert all(0 <= r < 16 for r in wrapped)
    small = reserve_rows(first=0, size=4, kinds=one[:6], seed=0, attempt=1)  # the window wraps round a short stage
    assert len(set(small)) == 4 and set(small) <= set(range(6))


def test_the_reserve_holds_only_rows_of_the_batchs_kind():
    # a merged stage's blocks: 4 image rows, 4 text rows, ... (TRL cannot score a batch that mixes them)
    kinds = [("perception", 1) if (i // 4) % 2 == 0 else ("text_reasoning", 0) for i in range(40)]
    for first in (0, 4, 32, 36):
        rows = reserve_rows(first=first, size=4, kinds=kinds, seed=0, attempt=1)
        assert len(set(rows)) == 4 and {kinds[r] for r in rows} == {kinds[first]}
        assert all(0 < (r - first) % 40 < 40 for r in rows)
    # the window is the next 4 batches of the same kind: rows 8..11, 16..19, 24..27, 32..35 after the block at 0
    assert set(reserve_rows(first=0, size=4, kinds=kinds, seed=0, attempt=1)) <= set(range(8, 36))
    assert set(reserve_rows(first=36, size=4, kinds=kinds, seed=0, attempt=1)) <= {4, 5, 6, 7, 12, 13, 14, 15} | set(
        range(20, 32)
    )


def _scored(prompt: list[list[int]], completion: list[list[int]], adv: list[float], images: list) -> dict:
    """A scored batch as TRL pads it: prompts left-padded with 0, completions right-padded with 0."""
    p = max(map(len, prompt))
    c = max(map(len, completion))
    pids = torch.tensor([[0] * (p - len(x)) + x for x in prompt])
    cids = torch.tensor([x + [0] * (c - len(x)) for x in completion])
    return {
        "prompt_ids": pids,
        "prompt_mask": (pids > 0).long(),
        "completion_ids": cids,
        "completion_mask": (cids > 0).long(),
        "token_type_ids": torch.cat([(pids > 0).long() * 7, (cids > 0).long() * 9], 1),
        "old_per_token_logps": (cids > 0).float() * -1.0,
        "advantages": torch.tensor(adv),
        "num_items_in_batch": torch.tensor(99),
        "pixel_values": images,
        "num_images": [1] * len(prompt),
        "ref_per_token_logps": None,
    }


def test_merged_groups_keep_their_tokens_under_a_common_padding():
    a = _scored([[5], [5], [6, 6], [6, 6]], [[1], [2], [3, 3], [4]], [0, 0, 1, -1], ["a5", "a5", "a6", "a6"])
    b = _scored([[8, 8, 8], [8, 8, 8]], [[1, 1, 1, 1], [2]], [0.5, -0.5], ["b8", "b8"])
    out = merge([a, b], [(1, 0), (0, 1), (0, 0)], group=2, pad_id=0, seq_is=False)
    assert out["prompt_ids"].tolist() == [[8, 8, 8]] * 2 + [[0, 6, 6]] * 2 + [[0, 0, 5]] * 2
    assert out["completion_ids"].tolist() == [[1, 1, 1, 1], [2, 0, 0, 0], [3, 3, 0, 0], [4, 0, 0, 0]] + [
        [1, 0, 0, 0],
        [2, 0, 0, 0],
    ]
    assert out["prompt_mask"].sum(1).tolist() == [3, 3, 2, 2, 1, 1]
    assert out["completion_mask"].sum(1).tolist() == [4, 1, 2, 1, 1, 1]
    # prompt part left-padded, completion part right-padded
    assert out["token_type_ids"][2].tolist() == [0, 7, 7, 9, 9, 0, 0]
    assert out["old_per_token_logps"].sum().item() == -10.0
    assert out["advantages"].tolist() == [0.5, -0.5, 1.0, -1.0, 0.0, 0.0]
    assert out["pixel_values"] == ["b8", "b8", "a6", "a6", "a5", "a5"]
    assert out["num_images"] == [1] * 6 and out["ref_per_token_logps"] is None


def test_per_sample_pixel_tensors_and_sequence_level_ratios_are_not_padded_as_tokens():
    """Idefics/SmolVLM keep pixel values padded per sample ([rows, images, C, H, W]); TRL's sequence-level
    importance ratio is [rows, 1]. Neither is a token axis."""
    a = _scored([[5], [5]], [[1, 1, 1], [2]], [0.5, -0.5], ["x", "x"])
    b = _scored([[6], [6]], [[3, 3], [4]], [1.0, -1.0], ["y", "y"])
    for d, v in ((a, 1.0), (b, 2.0)):
        d["pixel_values"] = torch.full((2, 1, 3, 4, 4), v)
        d["importance_sampling_ratio"] = torch.full((2, 1), v)
    out = merge([a, b], [(1, 0), (0, 0)], group=2, pad_id=0, seq_is=True)
    assert out["pixel_values"].shape == (4, 1, 3, 4, 4)
    assert out["pixel_values"][:, 0, 0, 0, 0].tolist() == [2.0, 2.0, 1.0, 1.0]
    assert out["importance_sampling_ratio"].tolist() == [[2.0], [2.0], [1.0], [1.0]]
    assert out["completion_ids"].shape == (4, 3)


def test_a_sequence_level_ratio_stays_one_per_completion_when_a_draw_has_one_token_completions():
    """A draw whose longest completion is 1 token has a [rows, 1] ratio whatever the level; only the recipe's
    importance-sampling mode tells a sequence-level ratio from a token-level one."""
    a = _scored([[5], [5]], [[1], [2]], [0.5, -0.5], ["x", "x"])  # completions of one token
    b = _scored([[6], [6]], [[3, 3, 3], [4]], [1.0, -1.0], ["y", "y"])
    for d, v in ((a, 1.0), (b, 2.0)):
        d["importance_sampling_ratio"] = torch.full((2, 1), v)
    out = merge([a, b], [(0, 0), (1, 0)], group=2, pad_id=0, seq_is=True)
    assert out["importance_sampling_ratio"].tolist() == [[1.0], [1.0], [2.0], [2.0]]
    a["importance_sampling_ratio"] = torch.full((2, 1), 1.0)  # token level: one token each
    b["importance_sampling_ratio"] = torch.full((2, 3), 2.0)
    out = merge([a, b], [(0, 0), (1, 0)], group=2, pad_id=0, seq_is=False)
    assert out["importance_sampling_ratio"].tolist() == [[1.0, 0.0, 0.0]] * 2 + [[2.0, 2.0, 2.0]] * 2


def test_a_batch_entry_that_is_not_per_row_is_refused_not_misaligned():
    a = _scored([[5], [5]], [[1], [2]], [0, 1], ["x", "x"])
    a["pixel_values"] = torch.zeros(3, 2)  # three image rows for two completions: not split per row
    with pytest.raises(ValueError, match="pixel_values"):
        merge([a], [(0, 0)], group=2, pad_id=0, seq_is=False)


def _half_reward(folder) -> str:
    """A user reward that is constant for about half the record ids (their groups never carry signal)."""
    (folder / "half.py").write_text(
        "import zlib\n"
        "def half(completions, id, **kwargs):\n"
        "    text = [c if isinstance(c, str) else c[-1]['content'] for c in completions]\n"
        "    return [0.0 if zlib.crc32(i.encode()) % 2 else zlib.crc32(t.encode()) % 997 / 997"
        " for i, t in zip(id, text)]\n"
    )
    return f"{folder}/half.py:half"


@pytest.mark.slow
def test_a_filtered_stage_trains_on_signal_groups_and_logs_the_filter(world_dir, tmp_path):
    """Half the prompts get a constant reward (a zero-variance group every time); with two extra draws the batch
    is rebuilt from groups that carry signal, and metrics.jsonl says how many were filtered and kept."""
    half = _half_reward(tmp_path)
    _, rows = stage3_rows(
        world_dir,
        tmp_path / "runs",
        3,
        f"stages.0.rewards={{'{half}': 1.0}}",
        "stages.0.filter_groups=2",
    )
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(math.isfinite(r["loss"]) for r in rows), rows
    zero = [r["filter_zero_std_share"] for r in rows]
    kept = [r["filter_signal_share"] for r in rows]
    assert sum(zero) > 0, rows  # about half the first draw's groups carried nothing
    assert all(k >= 1 - z for k, z in zip(kept, zero)), rows
    assert sum(kept) > sum(1 - z for z in zero), rows  # the extra draws replaced some
    assert all(0 < r["filter_extra_rounds"] <= 2 for r in rows), rows


@pytest.mark.slow
def test_a_filtered_merged_stage_draws_its_extra_prompts_from_the_batchs_own_kind(world_dir, tmp_path):
    """A merged stage's blocks alternate image and text-only sources; an extra draw that mixed them would crash
    TRL's scoring (the first study run did), so each draw keeps the batch's kind and the stage trains."""
    half = _half_reward(tmp_path)
    args = smoke_args(RECIPES / "merged.yaml", world_dir, tmp_path / "runs", steps=4)
    for s in (f"stages.0.rewards={{'{half}': 1.0}}", "stages.0.filter_groups=2", "eval.attribution=none"):
        args += ["--set", s]
    seethink("train", *args)
    (stage,) = (tmp_path / "runs" / "merged" / "stages").iterdir()
    rows = [json.loads(line) for line in (stage / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(math.isfinite(r["loss"]) for r in rows), rows
    assert sum(r["filter_extra_rounds"] for r in rows) > 0, rows
