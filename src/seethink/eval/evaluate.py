"""Score a model on records: per-sample rows and per capability / family summaries."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from seethink.configs import one_of, require
from seethink.errors import SeethinkError
from seethink.eval.attribution import attribute, model_answerer, summarise_attribution
from seethink.eval.datasets import find_datasets, load_split, load_train_for_priors
from seethink.eval.judge import VerdictCache, cached
from seethink.eval.metrics import bootstrap_ci, prior_accuracy
from seethink.eval.passk import MAX_TEMPERATURE, sample_correct
from seethink.fileio import ensure_dir, write_json, write_jsonl
from seethink.models.generate import generate
from seethink.models.load import inference_dtype
from seethink.models.processors import bound_pixels
from seethink.models.vllm_engine import load_generator
from seethink.recipe import ATTRIBUTIONS, Attribution
from seethink.rewards import score
from seethink.seeding import derive_seed
from seethink.styles import style_of


def score_rows(records: list[dict], completions) -> list[dict]:
    rows = []
    for r, (c,) in zip(records, completions):
        s = score(c.text, r["answer"], r.get("options"))
        rows.append(
            {
                "id": r["id"],
                "capability": r["capability"],
                "family": r.get("family", ""),
                "problem": r["problem"],
                "answer": r["answer"],
                "completion": c.text,
                "accuracy": s.accuracy,
                "format": s.format,
                "reward": s.total,
                "completion_tokens": c.n_tokens,
                "think_tokens": c.think_tokens,
            }
        )
    return rows


def summarise(rows: list[dict], seed: int = 0) -> dict:
    """{"capability": {cap: stats}, "family": {cap/family: stats}} with accuracy CIs."""
    groups = {"capability": defaultdict(list), "family": defaultdict(list)}
    for row in rows:
        groups["capability"][row["capability"]].append(row)
        groups["family"][f"{row['capability']}/{row['family']}"].append(row)
    out = {}
    for level, g in groups.items():
        out[level] = {}
        for key in sorted(g):
            rs = g[key]
            acc = [r["accuracy"] for r in rs]
            lo, hi = bootstrap_ci(acc, seed=seed)
            toks = [r["completion_tokens"] for r in rs]
            think = [r["think_tokens"] for r in rs]
            out[level][key] = {
                "n": len(rs),
                "accuracy": float(np.mean(acc)),
                "ci95": [lo, hi],
                "format": float(np.mean([r["format"] for r in rs])),
                "mean_tokens": float(np.mean(toks)),
                "median_tokens": float(np.median(toks)),
                "mean_think_tokens": float(np.mean(think)),
                "median_think_tokens": float(np.median(think)),
                **_worked(rs),
            }
    return out


def _worked(rows: list[dict]) -> dict:
    """The share of answers in the worked style (`seethink.styles`) and the mean think tokens of the correct ones
    (None if there are none): trace length read where a shorter trace cannot come from answering tersely."""
    worked = [r for r in rows if style_of(r["completion"]) == "worked"]
    right = [r["think_tokens"] for r in worked if r["accuracy"] == 1]
    return {
        "worked_share": len(worked) / len(rows),
        "worked_correct_think_tokens": float(np.mean(right)) if right else None,
    }


def evaluate(
    model,
    processor,
    records: list[dict],
    max_new_tokens: int = 96,
    batch_size: int = 64,
    seed: int = 0,
    temperature: float = 0.0,
    show: bool = True,
) -> tuple[list[dict], dict]:
    """Greedy by default; `temperature` > 0 samples one answer per record (seeded). `show`: a progress bar."""
    completions = generate(
        model,
        processor,
        records,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        do_sample=temperature > 0,
        temperature=temperature or 1.0,
        seed=seed,
        desc="evaluating",
        show=show,
    )
    rows = score_rows(records, completions)
    return rows, summarise(rows, seed)


def sample_counts(
    model,
    processor,
    records: list[dict],
    k: int,
    temperature: float = 1.0,
    max_new_tokens: int = 96,
    batch_size: int = 64,
    seed: int = 0,
) -> list[int]:
    """How many of `k` answers sampled at `temperature` are right, per record (batch_size sequences per call)."""
    items = max(1, batch_size // k)
    counts = []
    for start in range(0, len(records), items):
        part = records[start : start + items]
        counts += sample_correct(
            model, processor, part, k, derive_seed(seed, part[0]["id"]), temperature, max_new_tokens
        )
    return counts


def add_sampling(summary: dict, rows: list[dict], counts: list[int], k: int) -> None:
    """Beside greedy accuracy: `sampled_accuracy` (the mean over k samples, what a rollout earns) and `pass_at_k`
    (any of the k right: what RL can reach), per capability and family. A base with sampled accuracy far below its
    greedy accuracy gives GRPO groups with no right answer and no signal."""
    groups = defaultdict(list)
    for row, c in zip(rows, counts):
        row["sampled_correct"] = c
        groups[("capability", row["capability"])].append(c)
        groups[("family", f"{row['capability']}/{row['family']}")].append(c)
    for (level, key), cs in groups.items():
        summary[level][key].update(
            sampled_accuracy=float(np.mean(cs)) / k, pass_at_k=float(np.mean([c > 0 for c in cs])), k=k
        )


@dataclass(frozen=True)
class EvalOptions:
    """How an evaluation decodes and what it adds to accuracy; checks its own values."""

    max_new_tokens: int = 96
    batch_size: int = 64
    """Prompts per generate call."""
    seed: int = 0
    temperature: float = 0.0
    """0: greedy; > 0: one sampled answer per record at this temperature."""
    attribution: Attribution = "none"
    """Attribute every wrong answer to perception or reasoning (`seethink.eval.attribution`); `none`: off."""
    samples: int = 0
    """> 0: also sample this many answers per record at `sample_temperature` (sampled accuracy and pass@k)."""
    sample_temperature: float = 1.0
    pixels: tuple[int, int] = (0, 0)
    """(min, max) pixels every image is resized into (`seethink.models.processors.bound_pixels`); 0: no bound."""
    precision: str = "auto"
    """The weights' dtype (`seethink.models.load.inference_dtype`): bf16 on CUDA unless `fp32`; fp32 on CPU."""
    attn: str = "auto"
    """`attn_implementation` (`seethink.models.load.attn_implementation`)."""
    engine: str = "transformers"
    """`transformers` (batched HF generate), `vllm`, or `auto` (vLLM where it fits and a GPU is present):
    `seethink.models.vllm_engine.load_generator`. A run's own evaluations use transformers."""

    def __post_init__(self):
        require(self.max_new_tokens > 0 and self.batch_size > 0, "max_new_tokens/batch_size", "must be > 0")
        require(
            0 <= self.temperature <= MAX_TEMPERATURE,
            "temperature",
            f"must be in [0, {MAX_TEMPERATURE:g}] (0 = greedy), got {self.temperature}",
        )
        require(self.samples >= 0, "samples", f"must be >= 0, got {self.samples}")
        require(
            not self.samples or 0 < self.sample_temperature <= MAX_TEMPERATURE,
            "sample_temperature",
            f"must be in (0, {MAX_TEMPERATURE:g}], got {self.sample_temperature}",
        )
        one_of(self.attribution, ATTRIBUTIONS, "attribution")


def check_judge(attribution: str, has_judge: bool) -> None:
    """Attribution `judge` needs a judge, and only it uses one."""
    if attribution == "judge" and not has_judge:
        raise SeethinkError("attribution judge needs a judge (an OpenAI-compatible URL or a local model folder)")
    if attribution != "judge" and has_judge:
        raise SeethinkError(f"a judge is used by attribution judge, not by attribution {attribution}")


def _judge_asker(opts: EvalOptions, judge, cache: Path):
    """The cached judge for attribution `judge` (None otherwise)."""
    check_judge(opts.attribution, judge is not None)
    return cached(judge, VerdictCache(cache)) if judge is not None else None


@dataclass(frozen=True)
class Shards:
    """This process's share of an evaluation that several processes run together (`seethink.train.dist.shards`).

    Each dataset is cut into whole chunks of `batch_size` records (and of sampled items), and each process takes
    a contiguous run of chunks: every generate call sees exactly the batch one process would, so the rows gathered
    in rank order are the one-process evaluation's. Nothing in it waits on another process but `gather`."""

    rank: int = 0
    count: int = 1
    gather: Callable[[list], list] | None = None
    """Every process's list, concatenated in rank order, on every process (None: one process)."""

    def part(self, records: list, chunk: int) -> list:
        chunks = -(-len(records) // chunk)
        per = -(-chunks // self.count)
        return records[self.rank * per * chunk : (self.rank + 1) * per * chunk]

    def join(self, items: list) -> list:
        return self.gather(items) if self.gather and self.count > 1 else items


ONE_PROCESS = Shards()


def _dataset_rows(model, processor, recs: list[dict], opts: EvalOptions, shards: Shards, ask_judge):
    """(rows, summary, verdicts) of one dataset: this process's share evaluated, everyone's gathered."""
    chunk = math.lcm(opts.batch_size, max(1, opts.batch_size // opts.samples)) if opts.samples else opts.batch_size
    mine = shards.part(recs, chunk)
    rows, _ = evaluate(
        model,
        processor,
        mine,
        max_new_tokens=opts.max_new_tokens,
        batch_size=opts.batch_size,
        seed=opts.seed,
        temperature=opts.temperature,
        show=shards.rank == 0,
    )
    counts = (
        sample_counts(
            model,
            processor,
            mine,
            opts.samples,
            opts.sample_temperature,
            opts.max_new_tokens,
            opts.batch_size,
            opts.seed,
        )
        if opts.samples
        else []
    )
    verdicts = []
    if opts.attribution != "none":
        answer = model_answerer(model, processor, opts.max_new_tokens, opts.batch_size, opts.seed)
        verdicts = attribute(
            mine,
            [row["accuracy"] == 1.0 for row in rows],
            answer,
            opts.attribution,
            completions=[row["completion"] for row in rows],
            judge=ask_judge,
        )
    rows, counts, verdicts = shards.join(rows), shards.join(counts), shards.join(verdicts)
    summary = summarise(rows, opts.seed)
    if opts.samples:
        add_sampling(summary, rows, counts, opts.samples)
    return rows, summary, verdicts


def evaluate_datasets(
    model_path,
    datasets: dict[str, list[dict]],
    out: Path,
    opts: EvalOptions = EvalOptions(),
    extra: dict | None = None,
    judge=None,
    judge_cache: Path | None = None,
    shards: Shards = ONE_PROCESS,
) -> dict:
    """Load the model once, evaluate every dataset, write `out/samples.jsonl` and `out/summary.json`.

    With `opts.attribution` set, every wrong answer is attributed to perception or reasoning, written to
    `out/attribution.jsonl` and the summary; `judge` (a `seethink.eval.judge.Judge`) is needed for "judge", its
    replies cached in `judge_cache` (default `out/judge_cache.jsonl`; one file per process when several share the
    work). With `opts.samples`, sampled accuracy and pass@k join greedy accuracy (`add_sampling`). With `shards`,
    every process evaluates its share and the first writes the files; all return the summary."""
    cache = judge_cache or out / "judge_cache.jsonl"
    if shards.count > 1:
        cache = cache.with_name(f"{cache.stem}.rank{shards.rank}{cache.suffix}")
    out = ensure_dir(out) if shards.rank == 0 else out
    ask_judge = _judge_asker(opts, judge, cache)
    model, processor = load_generator(
        model_path, opts.engine, inference_dtype(opts.precision), opts.attn, opts.pixels, opts.seed
    )
    bound_pixels(processor, *opts.pixels)
    summary = {**(extra or {}), "capability": {}, "family": {}}
    all_rows, verdicts, t0 = [], [], time.time()
    for recs in datasets.values():
        rows, s, v = _dataset_rows(model, processor, recs, opts, shards, ask_judge)
        all_rows += rows
        verdicts += v
        for level in ("capability", "family"):
            summary[level].update(s[level])
    summary["seconds"] = round(time.time() - t0, 2)
    summary["samples_per_second"] = round(len(all_rows) / max(summary["seconds"], 1e-9), 1)
    if shards.count > 1:
        summary["processes"] = shards.count
    if opts.attribution != "none":
        answers = {cap: s["n"] for cap, s in summary["capability"].items()}
        summary["attribution"] = summarise_attribution(verdicts, {"all": len(all_rows), **answers}, opts.seed)
    if shards.rank == 0:
        if opts.attribution != "none":
            write_jsonl(out / "attribution.jsonl", verdicts)
        write_jsonl(out / "samples.jsonl", all_rows)
        write_json(out / "summary.json", summary)
    return summary


def evaluate_folder(
    model_path,
    data,
    split: str,
    out: Path,
    opts: EvalOptions = EvalOptions(),
    limit: int | None = None,
    judge=None,
    judge_cache: Path | None = None,
) -> dict:
    """Evaluate a world folder, dataset folder or file; adds answer-prior baselines where a train split exists."""
    sources = find_datasets(data, split)  # check the data before loading a model
    datasets = {name: load_split(src, split, limit) for name, src in sources.items()}
    prior = {}
    for name, recs in datasets.items():
        train = load_train_for_priors(sources[name])
        if train is not None:
            prior.update({f"{recs[0]['capability']}/{fam}": acc for fam, acc in prior_accuracy(train, recs).items()})
    extra = {
        "model": str(model_path),
        "data": str(data),
        "split": split,
        "prior": prior,
        "decoding": "greedy" if opts.temperature <= 0 else f"sampled, temperature {opts.temperature}",
    }
    if judge is not None:
        extra["judge"] = judge.identity
    if opts.samples:
        extra["sampling"] = {"k": opts.samples, "temperature": opts.sample_temperature}
    return evaluate_datasets(model_path, datasets, out, opts, extra, judge, judge_cache)
