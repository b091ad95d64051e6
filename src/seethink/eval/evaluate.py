"""Score a model on records: per-sample rows and per capability / family summaries."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from seethink.errors import SeethinkError
from seethink.eval.generate import generate
from seethink.eval.metrics import bootstrap_ci
from seethink.rewards import score


def score_rows(records: list[dict], completions) -> list[dict]:
    rows = []
    for r, (c,) in zip(records, completions):
        s = score(c.text, r["answer"], r.get("options"))
        rows.append({"id": r["id"], "capability": r["capability"], "family": r.get("family", ""),
                     "problem": r["problem"], "answer": r["answer"], "completion": c.text,
                     "accuracy": s.accuracy, "format": s.format, "reward": s.total, "completion_tokens": c.n_tokens,
                     "think_tokens": c.think_tokens})
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
            out[level][key] = {"n": len(rs), "accuracy": float(np.mean(acc)), "ci95": [lo, hi],
                               "format": float(np.mean([r["format"] for r in rs])),
                               "mean_tokens": float(np.mean(toks)), "median_tokens": float(np.median(toks)),
                               "mean_think_tokens": float(np.mean(think)), "median_think_tokens": float(np.median(think))}
    return out


def evaluate(model, processor, records: list[dict], max_new_tokens: int = 96, batch_size: int = 64,
             seed: int = 0, temperature: float = 0.0) -> tuple[list[dict], dict]:
    """Greedy by default; `temperature` > 0 samples one answer per record (seeded)."""
    completions = generate(model, processor, records, max_new_tokens=max_new_tokens, batch_size=batch_size,
                           do_sample=temperature > 0, temperature=temperature or 1.0, seed=seed, desc="evaluating")
    rows = score_rows(records, completions)
    return rows, summarise(rows, seed)


def sample_counts(model, processor, records: list[dict], k: int, temperature: float = 1.0, max_new_tokens: int = 96,
                  batch_size: int = 64, seed: int = 0) -> list[int]:
    """How many of `k` answers sampled at `temperature` are right, per record (batch_size sequences per call)."""
    from seethink.passk import sample_correct
    from seethink.seeding import derive_seed

    items = max(1, batch_size // k)
    counts = []
    for start in range(0, len(records), items):
        part = records[start: start + items]
        counts += sample_correct(model, processor, part, k, derive_seed(seed, part[0]["id"]), temperature, max_new_tokens)
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
        summary[level][key].update(sampled_accuracy=float(np.mean(cs)) / k, pass_at_k=float(np.mean([c > 0 for c in cs])), k=k)


def evaluate_datasets(model_path, datasets: dict[str, list[dict]], out: Path, max_new_tokens: int = 96,
                      batch_size: int = 64, seed: int = 0, extra: dict | None = None,
                      attribution: str = "none", temperature: float = 0.0, judge=None,
                      judge_cache: Path | None = None, samples: int = 0, sample_temperature: float = 1.0) -> dict:
    """Load the model once, evaluate every dataset, write `out/samples.jsonl` and `out/summary.json`.

    `attribution` (auto | facts | caption | judge; none = off): also attribute every wrong answer to perception
    or reasoning (`seethink.eval.attribution`), written to `out/attribution.jsonl` and the summary. `judge`
    (a `seethink.eval.judge.Judge`) is needed for "judge"; its replies are cached in `judge_cache`
    (default `out/judge_cache.jsonl`). `samples` > 0: also sample that many answers per record at
    `sample_temperature` and report sampled accuracy and pass@k (`add_sampling`)."""
    from seethink.eval.attribution import attribute, model_answerer, summarise_attribution
    from seethink.fileio import ensure_dir, write_json, write_jsonl
    from seethink.models.load import load_model

    out = ensure_dir(out)
    ask_judge = None
    if attribution == "judge":
        from seethink.eval.judge import VerdictCache, cached

        if judge is None:
            raise SeethinkError("attribution 'judge' needs a judge (--judge URL or folder)")
        ask_judge = cached(judge, VerdictCache(judge_cache or out / "judge_cache.jsonl"))
    model, processor = load_model(model_path)
    summary = {**(extra or {}), "capability": {}, "family": {}}
    all_rows, verdicts, t0 = [], [], time.time()
    for recs in datasets.values():
        rows, s = evaluate(model, processor, recs, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
                           temperature=temperature)
        all_rows += rows
        if samples:
            add_sampling(s, rows, sample_counts(model, processor, recs, samples, sample_temperature, max_new_tokens,
                                                batch_size, seed), samples)
        for level in ("capability", "family"):
            summary[level].update(s[level])
        if attribution != "none":
            answer = model_answerer(model, processor, max_new_tokens, batch_size, seed)
            verdicts += attribute(recs, [row["accuracy"] == 1.0 for row in rows], answer, attribution,
                                  completions=[row["completion"] for row in rows], judge=ask_judge)
    summary["seconds"] = round(time.time() - t0, 2)
    summary["samples_per_second"] = round(len(all_rows) / max(summary["seconds"], 1e-9), 1)
    if attribution != "none":
        answers = {cap: s["n"] for cap, s in summary["capability"].items()}
        summary["attribution"] = summarise_attribution(verdicts, {"all": len(all_rows), **answers}, seed)
        write_jsonl(out / "attribution.jsonl", verdicts)
    write_jsonl(out / "samples.jsonl", all_rows)
    write_json(out / "summary.json", summary)
    return summary


def evaluate_folder(model_path, data, split: str, out: Path, limit: int | None = None, batch_size: int = 64,
                    max_new_tokens: int = 96, seed: int = 0, attribution: str = "none",
                    temperature: float = 0.0, judge=None, judge_cache: Path | None = None, samples: int = 0,
                    sample_temperature: float = 1.0) -> dict:
    """Evaluate a world folder, dataset folder or file; adds answer-prior baselines where a train split exists."""
    from seethink.eval.datasets import find_datasets, load_split, load_train_for_priors
    from seethink.eval.metrics import prior_accuracy

    sources = find_datasets(data, split)  # check the data before loading a model
    datasets = {name: load_split(src, split, limit) for name, src in sources.items()}
    prior = {}
    for name, recs in datasets.items():
        train = load_train_for_priors(sources[name])
        if train is not None:
            prior.update({f"{recs[0]['capability']}/{fam}": acc for fam, acc in prior_accuracy(train, recs).items()})
    extra = {"model": str(model_path), "data": str(data), "split": split, "prior": prior,
             "decoding": "greedy" if temperature <= 0 else f"sampled, temperature {temperature}"}
    if judge is not None:
        extra["judge"] = judge.identity
    if samples:
        extra["sampling"] = {"k": samples, "temperature": sample_temperature}
    return evaluate_datasets(model_path, datasets, out, max_new_tokens, batch_size, seed, extra, attribution,
                             temperature, judge, judge_cache, samples, sample_temperature)
