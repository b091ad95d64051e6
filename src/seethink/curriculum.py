"""Curricula over a stage's rows: the capability axis is the recipe's stage list; this is the difficulty axis.

The paper's two curricula and their combination, as recipe settings:

| curriculum            | recipe                                | per stage                                |
|-----------------------|---------------------------------------|------------------------------------------|
| capability only       | `staged.yaml`                         | `ordering: shuffle`                      |
| difficulty only       | `difficulty.yaml` (merged data)       | `ordering: difficulty`                   |
| capability×difficulty | `capability-x-difficulty.yaml`        | `ordering: difficulty` in every stage    |

Difficulty is the record's `pass_rate` (from `seethink passk`; higher = easier). Options, all explicit:
- `difficulty_schedule: once` -- the stage goes easy→hard exactly once over all the rows it consumes (an
  item needed twice appears twice at its difficulty); `per_epoch` -- every pass over the data is
  easy→hard, so the curriculum restarts each epoch (what a looping dataloader over a sorted file does);
- `drop_solved` / `drop_unsolved` -- leave out items with pass rate 1 (nothing to learn: every sample is
  right, zero advantage) or 0;
- ties in pass rate are broken by a seeded random key, never by file order.
"""

from __future__ import annotations

import random
from typing import Literal

from seethink.errors import SeethinkError

Ordering = Literal["shuffle", "as_is", "difficulty"]
Schedule = Literal["once", "per_epoch"]


def filter_by_pass_rate(records: list[dict], drop_solved: bool, drop_unsolved: bool, where: str) -> list[dict]:
    if not (drop_solved or drop_unsolved):
        return records
    check_pass_rates(records, where, "drop_solved/drop_unsolved")
    kept = [
        r for r in records if not (drop_solved and r["pass_rate"] >= 1) and not (drop_unsolved and r["pass_rate"] <= 0)
    ]
    if not kept:
        raise SeethinkError(f"{where}: every record was dropped by drop_solved/drop_unsolved")
    return kept


def check_pass_rates(rows: list[dict], where: str, what: str = "ordering 'difficulty'") -> None:
    missing = sum(r.get("pass_rate") is None for r in rows)
    if missing:
        raise SeethinkError(
            f"{where}: {what} needs pass_rate on every record; {missing} have none (run `seethink passk` first)"
        )


def epochs(records: list[dict], n: int, rng: random.Random, shuffle: bool) -> list[list[dict]]:
    """`n` rows as successive passes over `records` (the last one partial), each pass shuffled or in order."""
    out, left = [], n
    while left > 0:
        block = list(records)
        if shuffle:
            rng.shuffle(block)
        out.append(block[:left])
        left -= len(out[-1])
    return out


def easy_to_hard(rows: list[dict], rng: random.Random) -> list[dict]:
    ties = [rng.random() for _ in rows]
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["pass_rate"], ties[i]))
    return [rows[i] for i in order]


def source_rows(
    records: list[dict], n: int, rng: random.Random, ordering: str, schedule: str, where: str
) -> list[tuple[int, dict]]:
    """(epoch, row) pairs: `n` rows of one source in the stage's order."""
    if ordering == "difficulty":
        check_pass_rates(records, where)
    passes = epochs(records, n, rng, shuffle=ordering == "shuffle")
    if ordering != "difficulty":
        return [(e, r) for e, rows in enumerate(passes) for r in rows]
    if schedule == "per_epoch":
        return [(e, r) for e, rows in enumerate(passes) for r in easy_to_hard(rows, rng)]
    return [(0, r) for r in easy_to_hard([r for rows in passes for r in rows], rng)]


def order_blocks(blocks: list[tuple[int, list[dict]]], rng: random.Random, ordering: str) -> list[list[dict]]:
    """Order whole batches of (possibly different) sources: shuffled, as built, or by epoch then easy→hard."""
    if ordering == "shuffle":
        rng.shuffle(blocks)
    elif ordering == "difficulty":
        ties = [rng.random() for _ in blocks]
        keys = [(e, -sum(r["pass_rate"] for r in b) / len(b), t) for (e, b), t in zip(blocks, ties)]
        blocks = [blocks[i] for i in sorted(range(len(blocks)), key=keys.__getitem__)]
    return [b for _, b in blocks]
