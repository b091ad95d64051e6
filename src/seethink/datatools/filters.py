"""Filters for MCQ data (`seethink data filter`); each one reports what it dropped and why.

Applied cheapest first, each to what the previous one kept:
    pass-rate   keep records with low <= pass_rate <= high (the pass@K column from `seethink passk`)
    dedup       near-duplicate questions about the same image(s) (character 3-gram Jaccard >= threshold;
                images compared by content, not by path); the first occurrence stays
    blind       drop questions a model answers from the question and options alone, without the image. Asked
                twice, the second time with the options rotated, and dropped only if right both times: a
                lucky guess passes twice in 1 of 16 cases instead of 1 of 4
    keep rule   the paper's: every filter model answers wrongly from the image (not trivially easy) and
                rightly from the caption alone (answerable, and the gold answer agrees with the caption).
                `require` picks either half or both.
Filter models are tool models from `seethink.models.chat` (a local HF folder or an OpenAI-compatible endpoint),
greedy; their replies are cached, so an interrupted filter run, rerun, asks nothing twice. A reply is read as
the letter in its last `\\boxed{}`, or a reply that is only a capital letter ("B", "(B)", "B."): a lower-case
"a" is never option A (the paper's scripts upper-cased replies first).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from seethink.errors import SeethinkError
from seethink.fileio import check_not_input, check_owned, ensure_dir, write_json, write_jsonl
from seethink.grading import boxed
from seethink.models.chat import Prompt
from seethink.records.io import load_records
from seethink.records.mcq import format_mcq, split_options
from seethink.rewards import LETTERS, extract_boxed, mcq_choice

ANSWER_HINT = f"Answer with the letter of the correct option in {boxed('')}."
REQUIRE = ("image-wrong", "caption-right")
Ask = Callable[[list], list[str]]  # prompts -> replies (a cached tool model)


@dataclass
class FilterResult:
    name: str
    kept: int
    dropped: int
    reasons: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"filter": self.name, "kept": self.kept, "dropped": self.dropped, "reasons": dict(self.reasons)}


Dropped = list[tuple[dict, str, str]]  # (record, filter name, reason); "reason | detail" counts as reason


def _split(
    name: str, records: list[dict], verdicts: list[str | None], dropped: Dropped
) -> tuple[list[dict], FilterResult]:
    """Keep the records whose verdict is None; the others are dropped with the verdict as reason."""
    kept, result = [], FilterResult(name, 0, 0)
    for rec, reason in zip(records, verdicts):
        if reason is None:
            kept.append(rec)
        else:
            dropped.append((rec, name, reason))
            result.reasons[reason.split(" | ")[0]] += 1  # "near-duplicate | of x-12" counts as near-duplicate
    result.kept, result.dropped = len(kept), len(records) - len(kept)
    return kept, result


# ---------------------------------------------------------------- pass rate


def pass_rate_verdicts(records: list[dict], low: float, high: float) -> list[str | None]:
    missing = next((r["id"] for r in records if r.get("pass_rate") is None), None)
    if missing is not None:
        raise SeethinkError(f"record {missing} has no pass_rate; run `seethink passk` on the data first")
    return [
        None
        if low <= r["pass_rate"] <= high
        else ("pass rate below " if r["pass_rate"] < low else "pass rate above ")
        + f"{low if r['pass_rate'] < low else high:g}"
        for r in records
    ]


# ---------------------------------------------------------------- near duplicates


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _grams(text: str) -> frozenset[str]:
    t = f" {_normal(text)} "
    return frozenset(t[i : i + 3] for i in range(max(1, len(t) - 2)))


def _stem(rec: dict) -> str:
    """The question without its option lines (options are compared too, but as a set)."""
    parsed = split_options(rec["problem"]) if rec.get("options") else None
    return parsed[0] if parsed else rec["problem"]


def _image_key(rec: dict, digests: dict[str, str]) -> tuple[str, ...]:
    for p in rec["images"]:
        if p not in digests:
            digests[p] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return tuple(digests[p] for p in rec["images"])


def dedup_verdicts(records: list[dict], threshold: float = 0.9, max_group: int = 5000) -> list[str | None]:
    """Near-duplicates within each group of records about the same images. Groups larger than `max_group`
    (typically text-only data, all in one group) are compared exactly after normalisation, not pairwise."""
    digests: dict[str, str] = {}
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(_image_key(r, digests), []).append(i)
    verdicts: list[str | None] = [None] * len(records)
    for idx in groups.values():
        exact: dict[tuple, str] = {}
        firsts: list[tuple[int, frozenset, frozenset]] = []
        for i in idx:
            r = records[i]
            opts = frozenset(_normal(o) for o in r.get("options") or [])
            key = (_normal(_stem(r)), opts)
            if key in exact:
                verdicts[i] = f"duplicate | of {exact[key]}"
                continue
            exact[key] = r["id"]
            if len(idx) > max_group:
                continue
            grams = _grams(_stem(r))
            for j, g, o in firsts:
                if o == opts and len(grams & g) / max(1, len(grams | g)) >= threshold:
                    verdicts[i] = f"near-duplicate | of {records[j]['id']}"
                    break
            else:
                firsts.append((i, grams, opts))
    return verdicts


# ---------------------------------------------------------------- model answers


def reply_choice(reply: str, options: list[str]) -> int | None:
    """The option a filter model chose: its last boxed answer, or a reply that is only a capital letter."""
    boxed = extract_boxed(reply or "")
    if boxed is not None:
        return mcq_choice(boxed, options)
    m = re.fullmatch(r"\s*\(?([A-Z])\)?[.:)]?\s*", reply or "")
    if m and m.group(1) in LETTERS[: len(options)]:
        return LETTERS.index(m.group(1))
    return None


def _question(rec: dict, options: list[str]) -> str:
    return f"{format_mcq(_stem(rec), options)}\n\n{ANSWER_HINT}"


def _gold(rec: dict) -> int:
    return mcq_choice(rec["answer"], rec["options"])


def _check_mcqs(records: list[dict], what: str, need_caption: bool = False) -> None:
    for r in records:
        if not r.get("options") or _gold(r) is None:
            raise SeethinkError(f"record {r['id']}: the {what} filter needs MCQs (options and a gold letter)")
        if need_caption and not r.get("caption"):
            raise SeethinkError(f"record {r['id']}: the keep rule's caption test needs a 'caption'")


def blind_verdicts(records: list[dict], models: list[tuple[str, Ask]]) -> list[str | None]:
    _check_mcqs(records, "blind")
    verdicts: list[str | None] = [None] * len(records)
    rotated = [r["options"][1:] + r["options"][:1] for r in records]
    for name, ask in models:
        first = ask([Prompt(_question(r, r["options"])) for r in records])
        second = ask([Prompt(_question(r, opts)) for r, opts in zip(records, rotated)])
        for i, r in enumerate(records):
            g = _gold(r)
            right_twice = reply_choice(first[i], r["options"]) == g and reply_choice(second[i], rotated[i]) == (
                g - 1
            ) % len(r["options"])
            if right_twice and verdicts[i] is None:
                verdicts[i] = f"answered without the image by {name}"
    return verdicts


def keep_rule_verdicts(
    records: list[dict], models: list[tuple[str, Ask]], require: tuple[str, ...] = REQUIRE
) -> list[str | None]:
    _check_mcqs(records, "keep-rule", need_caption="caption-right" in require)
    verdicts: list[str | None] = [None] * len(records)
    for name, ask in models:
        checks = []
        if "image-wrong" in require:
            replies = ask(
                [Prompt(_question(r, r["options"]), r["images"][0] if r["images"] else None) for r in records]
            )
            checks.append((replies, True, f"answered from the image by {name}"))
        if "caption-right" in require:
            replies = ask(
                [Prompt(f"Description of the image:\n{r['caption']}\n\n{_question(r, r['options'])}") for r in records]
            )
            checks.append((replies, False, f"not answered from the caption by {name}"))
        for replies, drop_if_right, reason in checks:
            for i, r in enumerate(records):
                if verdicts[i] is None and (reply_choice(replies[i], r["options"]) == _gold(r)) == drop_if_right:
                    verdicts[i] = reason
    return verdicts


# ---------------------------------------------------------------- the pipeline


@dataclass
class FilterPlan:
    pass_rate: tuple[float, float] | None = None
    dedup: float | None = None
    blind: list[tuple[str, Ask]] = field(default_factory=list)
    keep: list[tuple[str, Ask]] = field(default_factory=list)
    require: tuple[str, ...] = REQUIRE

    def __post_init__(self):
        if not self.require or any(x not in REQUIRE for x in self.require):
            raise SeethinkError(
                f"require: must name one or both of {', '.join(REQUIRE)}, got {','.join(self.require)!r}"
            )
        if self.pass_rate is not None and not 0 <= self.pass_rate[0] <= self.pass_rate[1] <= 1:
            raise SeethinkError(
                f"pass rate range: needs 0 <= LOW <= HIGH <= 1, got {self.pass_rate[0]}:{self.pass_rate[1]}"
            )
        if self.dedup is not None and not 0 < self.dedup <= 1:
            raise SeethinkError(f"dedup threshold: must be in (0, 1], got {self.dedup}")

    def steps(self) -> list[tuple[str, Callable[[list[dict]], list[str | None]]]]:
        out = []
        if self.pass_rate is not None:
            out.append(("pass-rate", lambda rs: pass_rate_verdicts(rs, *self.pass_rate)))
        if self.dedup is not None:
            out.append(("dedup", lambda rs: dedup_verdicts(rs, self.dedup)))
        if self.blind:
            out.append(("blind", lambda rs: blind_verdicts(rs, self.blind)))
        if self.keep:
            out.append(("keep-rule", lambda rs: keep_rule_verdicts(rs, self.keep, self.require)))
        return out


def apply_filters(records: list[dict], plan: FilterPlan) -> tuple[list[dict], Dropped, list[FilterResult]]:
    steps = plan.steps()
    if not steps:
        raise SeethinkError("no filter chosen: give --pass-rate, --dedup, --blind and/or --keep-model")
    dropped: Dropped = []
    results = []
    for name, verdicts in steps:
        if not records:
            results.append(FilterResult(name, 0, 0))
            continue
        records, result = _split(name, records, verdicts(records), dropped)
        results.append(result)
    return records, dropped, results


def filter_dataset(data: str | Path, split: str, out: str | Path, plan: FilterPlan) -> list[FilterResult]:
    """Write `out/<split>.jsonl` (kept), `out/<split>.dropped.jsonl` (with filter and reason) and
    `out/<split>.filter_report.json`: one folder holds the filtered splits side by side, none replacing another's
    dropped rows. `out` is never the input's own folder, nor a folder this command did not write."""
    check_not_input(out, [data])
    out = check_owned(out, ("*.filter_report.json", "filter_cache.jsonl"), "seethink data filter")
    records = load_records(data, split)
    n = len(records)
    kept, dropped, results = apply_filters(records, plan)
    ensure_dir(out)
    write_jsonl(
        out / f"{split}.dropped.jsonl", [{**r, "filtered_by": name, "filter_reason": why} for r, name, why in dropped]
    )
    write_jsonl(out / f"{split}.jsonl", kept)
    write_json(
        out / f"{split}.filter_report.json",
        {
            "input": str(data),
            "split": split,
            "records": n,
            "kept": len(kept),
            "filters": [r.to_dict() for r in results],
        },
    )
    return results
