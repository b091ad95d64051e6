"""Online group filtering for GRPO (DAPO's dynamic sampling), which TRL 1.16 does not have.

A group whose completions all got the same reward has zero advantage everywhere: it costs a full update slot
and teaches nothing. With `stages.k.filter_groups: N` a rollout round is scored as usual; if some group on some
process carries no signal, every process rolls out one more batch of prompts (at most N more), and each
process's batch is rebuilt from its signal-carrying groups first, in the order they were sampled, topped up with
its zero-signal groups (in order) when N rounds did not find enough. The batch keeps its size, so steps, the
learning-rate schedule and the stage's data order are those of the same recipe without filtering.

The extra prompts come from a reserve that is a function of the batch alone: the rows of the batch's kind (its
capability and number of images) that the stage's own stream holds just after this batch (a window of
`RESERVE_ROUNDS` batches of that kind, wrapping round the stage's end), drawn with a generator seeded by the
stage seed, the batch's first row and the attempt. A batch is one source's block (`seethink.train.data`), so an
extra draw never mixes image and text-only prompts (TRL 1.16 cannot score such a batch) and every process of a
step draws the same kind; a merged stage's mixture keeps its capabilities. A resumed run therefore rebuilds
the same batch, and an easy→hard curriculum stays local (a reserve prompt is a little later in the order, so
it is trained on once more in its own round, as a prompt is in a later epoch).

Logged per rollout round: `filter/zero_std_share` (groups of the first draw that carry no signal),
`filter/signal_share` (signal-carrying groups in the batch trained on) and `filter/extra_rounds`.
Every call to TRL's scoring logs its own reward metrics, so `reward` and `frac_reward_zero_std` average over
all rollouts sampled, extra ones included.
"""

from __future__ import annotations

import random

import torch

RESERVE_ROUNDS = 4
"""The reserve window, in batches of the stage's stream after the current one."""
PROMPT_KEYS = ("prompt_ids", "prompt_mask")
"""Row tensors aligned with the prompt (left-padded)."""
FULL_KEYS = ("token_type_ids", "mm_token_type_ids")
"""Row tensors spanning prompt then completion."""
COMPLETION_KEYS = (
    "completion_ids",
    "completion_mask",
    "old_per_token_logps",
    "ref_per_token_logps",
    "sampling_per_token_logps",
    "importance_sampling_ratio",
    "tool_mask",
)
"""Row tensors aligned with the completion (right-padded); any other row entry (pixel values padded per sample,
a sequence-level importance ratio) is taken as it is."""
SEQUENCE_IS_MODES = ("sequence_mask", "sequence_truncate")
"""TRL's `vllm_importance_sampling_mode`s whose `importance_sampling_ratio` is one value per completion, not one per
token (its width is 1 whatever the completions' width, so the width cannot tell when the longest completion has one
token)."""


SIGNAL_TOLERANCE = 1e-2
"""An advantage at most this large is rounding, not signal. A group whose rewards are all equal gets advantages
that are not exactly 0: TRL sums the weighted rewards and takes their mean in float32 and divides by (std + 1e-4),
so eight rewards of 0.1 give |advantage| 7e-5 and eight of 0.9 give 6e-4 (tests/test_group_filter.py). A real
difference in a group gives some completion |advantage| >= 0.35 under TRL's default group scaling (and the reward
difference itself, >= 0.1 for the paper's reward, without scaling)."""


def group_signal(advantages: torch.Tensor, group: int, tolerance: float = SIGNAL_TOLERANCE) -> list[bool]:
    """Per group of `group` consecutive completions: does any completion's advantage exceed `tolerance`?"""
    if advantages.numel() % group:
        raise ValueError(f"{advantages.numel()} completions are not whole groups of {group}")
    return (advantages.view(-1, group).abs() > tolerance).any(dim=1).tolist()


def picks(signals: list[list[bool]], wanted: int) -> list[tuple[int, int]]:
    """(draw, group) pairs making a batch of `wanted` groups: every draw's signal groups in order, then the first
    draw's zero-signal groups in order."""
    chosen = [(d, g) for d, draw in enumerate(signals) for g, s in enumerate(draw) if s][:wanted]
    fill = [(0, g) for g, s in enumerate(signals[0]) if not s]
    return chosen + fill[: wanted - len(chosen)]


def reserve_rows(first: int, size: int, kinds: list, seed: int, attempt: int) -> list[int]:
    """Dataset rows for one extra draw of `size` prompts after a batch starting at row `first` of `size` rows;
    `kinds`: every row's kind (a draw takes only rows of the batch's kind, `kinds[first]`)."""
    total, kind = len(kinds), kinds[first]
    window: list[int] = []
    for k in range(1, total + 1):
        row = (first + size - 1 + k) % total
        if kinds[row] == kind and row not in window:
            window.append(row)
            if len(window) == RESERVE_ROUNDS * size:
                break
    rng = random.Random(f"filter-groups:{seed}:{first}:{attempt}")
    return rng.sample(window, min(size, len(window)))


def _pad(t: torch.Tensor, width: int, value, left: bool) -> torch.Tensor:
    extra = width - t.shape[1]
    if extra <= 0:
        return t
    pad = torch.full((t.shape[0], extra, *t.shape[2:]), value, dtype=t.dtype, device=t.device)
    return torch.cat([pad, t] if left else [t, pad], dim=1)


def _widen(key: str, t: torch.Tensor, out: dict, prompt: int, completion: int, pad_id: int, seq_is: bool):
    """One row tensor of a scored batch padded to `prompt` / `completion` tokens; `seq_is`: the importance
    ratio is one per completion."""
    if key not in PROMPT_KEYS + FULL_KEYS + COMPLETION_KEYS or (key == "importance_sampling_ratio" and seq_is):
        return t
    value = pad_id if key in ("prompt_ids", "completion_ids") else (1 if key == "tool_mask" else 0)
    if key in PROMPT_KEYS:
        return _pad(t, prompt, value, left=True)
    if key in FULL_KEYS:
        p = out["prompt_ids"].shape[1]
        return torch.cat([_pad(t[:, :p], prompt, value, left=True), _pad(t[:, p:], completion, value, left=False)], 1)
    return _pad(t, completion, value, left=False)


def _rows(value, index: list[int]):
    if isinstance(value, torch.Tensor):
        return value[torch.tensor(index, dtype=torch.long, device=value.device)]
    return [value[i] for i in index]


def merge(draws: list[dict], chosen: list[tuple[int, int]], group: int, pad_id: int, *, seq_is: bool) -> dict:
    """One scored batch (TRL's `_generate_and_score_completions` output, with pixel values split per row) made of
    the `chosen` (draw, group) groups; `seq_is`: the importance ratio is sequence-level (`SEQUENCE_IS_MODES`).
    Per-row entries are selected and padded to a common width; scalars are taken from the first draw (the caller
    recomputes `num_items_in_batch`)."""
    prompt = max(d["prompt_ids"].shape[1] for d in draws)
    completion = max(d["completion_ids"].shape[1] for d in draws)
    rows = len(draws[0]["advantages"])
    merged = {}
    for key, first in draws[0].items():
        if first is None or (isinstance(first, torch.Tensor) and first.ndim == 0):
            merged[key] = first
            continue
        if len(first) != rows:
            raise ValueError(f"cannot filter groups: batch entry {key!r} has {len(first)} rows, not {rows}")
        parts = []
        for d, g in chosen:
            part = _rows(draws[d][key], list(range(g * group, (g + 1) * group)))
            if isinstance(part, torch.Tensor) and part.ndim >= 2:
                part = _widen(key, part, draws[d], prompt, completion, pad_id, seq_is)
            parts.append(part)
        merged[key] = torch.cat(parts) if isinstance(first, torch.Tensor) else [x for p in parts for x in p]
    return merged


def loss_tokens(batch: dict) -> torch.Tensor:
    """This process's completion tokens the loss counts (TRL's loss mask)."""
    mask = batch["completion_mask"]
    if batch.get("tool_mask") is not None:
        mask = mask * batch["tool_mask"]
    return mask.sum()


def filtering_trainer(base, *, extra_rounds: int, row_of_id: dict, kinds: list, seed: int):
    """A subclass of TRL's GRPOTrainer `base` that filters zero-signal groups with up to `extra_rounds` extra
    draws; `row_of_id`: each training row's index in the stage's dataset, by its record `id`; `kinds`: each
    row's kind (`reserve_rows`)."""
    from trl.trainer.utils import split_pixel_values_by_grid, unsplit_pixel_values_by_grid

    class FilteringGRPOTrainer(base):
        def _generate_and_score_completions(self, inputs):
            scored = super()._generate_and_score_completions(inputs)
            if not self.model.training:
                return scored
            g = self.num_generations
            draws = [split_pixel_values_by_grid(scored)]
            signals = [group_signal(scored["advantages"], g)]
            wanted = len(signals[0])
            first = row_of_id[inputs[0]["id"]]
            attempt = 0
            while attempt < extra_rounds and self._short(signals, wanted):
                attempt += 1
                rows = reserve_rows(first, wanted, kinds, seed, attempt)
                more = [self.train_dataset[i] for i in rows for _ in range(g)]
                again = super()._generate_and_score_completions(more)
                draws.append(split_pixel_values_by_grid(again))
                signals.append(group_signal(again["advantages"], g))
            chosen = picks(signals, wanted)
            self._log_filter(signals, chosen, attempt)
            if not attempt:  # no process was short: every group carries signal, the batch is TRL's as it is
                return scored
            seq_is = self.vllm_importance_sampling_mode in SEQUENCE_IS_MODES
            batch = merge(draws, chosen, g, self._tokenizer.pad_token_id, seq_is=seq_is)
            batch["num_items_in_batch"] = self.accelerator.gather(loss_tokens(batch)).sum()
            return unsplit_pixel_values_by_grid(batch)

        def _short(self, signals, wanted: int) -> bool:
            """Does any process still lack `wanted` signal groups? (Every process then draws again, so the
            collective calls inside TRL's scoring stay in step.)"""
            have = sum(sum(s) for s in signals)
            short = torch.tensor([float(have < wanted)], device=self.accelerator.device)
            return bool(self.accelerator.gather(short).sum().item() > 0)

        def _log_filter(self, signals, chosen, attempt: int) -> None:
            kept = sum(signals[d][i] for d, i in chosen)
            local = torch.tensor(
                [len(signals[0]) - sum(signals[0]), kept, len(chosen)],
                dtype=torch.float32,
                device=self.accelerator.device,
            )
            zero, kept, total = self.accelerator.gather(local).view(-1, 3).sum(dim=0).tolist()
            metrics = self._metrics["train"]
            metrics["filter/zero_std_share"].append(zero / total)
            metrics["filter/signal_share"].append(kept / total)
            metrics["filter/extra_rounds"].append(float(attempt))

    return FilteringGRPOTrainer
