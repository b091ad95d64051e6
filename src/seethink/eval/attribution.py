"""Error attribution, judge-free by default: was a wrong answer a perception error or a reasoning error?

The paper attributes errors with a proprietary LLM judge (86.9% perception for Qwen3-VL-8B). Here the
same question is answered from evidence the model itself produces:

    facts    (records with `facts` and a `scene`: the synthetic world) -- exact. Every perception fact the
             answer depends on ("there are 3 red objects") becomes probe questions asked to the same model
             about the same image, as 4-option MCQs in the world's own format. `probes_per_fact` probes per
             fact, with different options and correct letters, so a lucky guess (1 in 4) rarely passes
             them all. Any failed probe ⇒ perception error; every probe right ⇒ reasoning error.
    caption  (records with a gold `caption`: real data) -- counterfactual. The question is asked again
             with the description given as text instead of the image. Right from the description but wrong
             from the image ⇒ perception error; wrong from both ⇒ reasoning error.
    auto     facts where a record has them, else caption, else unattributed.
    judge    (optional, off by default; the paper's protocol) an LLM judge reads the question, gold answer,
             gold description if any, the wrong answer and the image, and names the cause
             (`seethink.eval.judge`). Needs the wrong completions and a judge.

Records of the perception capability are perception questions themselves, so their errors are perception
errors by definition; records without an image (text reasoning) can only have reasoning errors.

Anything that maps records to completions can be attributed: a model (`model_answerer`) or a scripted
policy (the tests validate the logic with policies whose faults are known).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Callable

import numpy as np

from seethink.eval.judge import parse_verdict, request_for
from seethink.eval.metrics import bootstrap_ci
from seethink.models.generate import generate
from seethink.recipe import ATTRIBUTIONS
from seethink.records.facts import noun_phrase
from seethink.records.mcq import LETTERS, format_mcq, place_answer
from seethink.rewards import accuracy
from seethink.seeding import derive_seed

Answerer = Callable[[list[dict]], list[str]]  # records -> one completion each, in order
METHODS = tuple(m for m in ATTRIBUTIONS if m != "none")
CAUSES = ("perception", "reasoning", "unattributed")
MAX_COUNT = 7  # count probes offer values up to this (the world has at most 6 objects)


def _probe(record: dict, fact: dict, question: str, answer: str, pool: list[str], key: tuple) -> dict:
    rng = random.Random(derive_seed(record["id"], *key))
    letter = LETTERS[rng.randrange(4)]
    wrong = rng.sample(sorted(set(pool) - {answer}), 3)
    options = place_answer(answer, wrong, letter)
    return {
        "id": f"{record['id']}/probe-{'-'.join(map(str, key))}",
        "capability": "perception",
        "family": "probe",
        "problem": format_mcq(question, options),
        "answer": letter,
        "options": options,
        "images": _fact_images(record, fact),
        "facts": [fact],
    }


def _fact_images(record: dict, fact: dict) -> list[str]:
    """The image a fact is about: the one it names (`image`: an index, in multi-image records), else all of them."""
    k = fact.get("image")
    return record["images"] if k is None else [record["images"][k]]


def count_probes(record: dict, probes_per_fact: int = 2) -> list[dict]:
    """MCQ probes for every count fact of a record ("How many red objects are there?")."""
    out = []
    for i, f in enumerate(record.get("facts") or []):
        if f["attribute"] != "count":
            continue
        n = int(f["value"])
        subject = {k: v for k, v in f["subject"].items() if v}
        question = f"How many {noun_phrase(subject, plural=True)} are there?"
        pool = [str(v) for v in range(max(0, n - 3), max(n + 4, 4)) if v <= max(MAX_COUNT, n + 1)]
        out += [_probe(record, f, question, str(n), pool, (i, k)) for k in range(probes_per_fact)]
    return out


def caption_record(record: dict) -> dict:
    """The same question with the gold description in place of the image."""
    return {
        **record,
        "id": record["id"] + "/caption",
        "images": [],
        "problem": f"Image description: {record['caption']}\n{record['problem']}",
    }


def _method(record: dict, method: str) -> str | None:
    has_facts = any(f["attribute"] == "count" for f in record.get("facts") or [])
    if method in ("auto", "facts") and has_facts:
        return "facts"
    if method in ("auto", "caption") and record.get("caption"):
        return "caption"
    return None


def _correct(records: list[dict], completions: list[str]) -> list[bool]:
    return [accuracy(c, r["answer"], r.get("options")) == 1.0 for r, c in zip(records, completions)]


def attribute(
    records: list[dict],
    correct: list[bool],
    answer: Answerer,
    method: str = "auto",
    probes_per_fact: int = 2,
    completions: list[str] | None = None,
    judge: Callable[[list], list[str]] | None = None,
) -> list[dict]:
    """One verdict per wrong answer: {"id", "capability", "family", "cause", "method", "evidence"}.

    `method="judge"` needs `completions` (the answers being judged) and `judge` (requests -> replies, e.g.
    `seethink.eval.judge.cached(...)`)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "judge" and (judge is None or completions is None):
        raise ValueError("method 'judge' needs the completions and a judge")
    verdicts, probes, recasts, judged = [], [], [], []
    for i, (r, ok) in enumerate(zip(records, correct)):
        if ok:
            continue
        v = {
            "id": r["id"],
            "capability": r["capability"],
            "family": r.get("family", ""),
            "cause": "unattributed",
            "method": None,
            "evidence": None,
        }
        if not r.get("images"):
            v.update(cause="reasoning", method="no-image")
        elif r["capability"] == "perception":
            v.update(cause="perception", method="perception-question")
        elif method == "judge":
            v["method"] = "judge"
            judged.append((v, r, completions[i]))
        elif (m := _method(r, method)) == "facts":
            v["method"] = "facts"
            probes.append((v, count_probes(r, probes_per_fact)))
        elif m == "caption":
            v["method"] = "caption"
            recasts.append((v, caption_record(r)))
        verdicts.append(v)
    flat = [p for _, ps in probes for p in ps]
    if flat:
        ok = iter(_correct(flat, answer(flat)))
        for v, ps in probes:
            passed = [next(ok) for _ in ps]
            v["evidence"] = {"probes": len(ps), "probes_right": sum(passed)}
            v["cause"] = "reasoning" if all(passed) else "perception"
    if recasts:
        ok = _correct([c for _, c in recasts], answer([c for _, c in recasts]))
        for (v, _), right in zip(recasts, ok):
            v["evidence"] = {"right_from_caption": right}
            v["cause"] = "perception" if right else "reasoning"
    if judged:
        for (v, _, _), reply in zip(judged, judge([request_for(r, c) for _, r, c in judged])):
            v["evidence"] = {"judge_reply": reply[:500]}
            v["cause"] = parse_verdict(reply) or "unattributed"
    return verdicts


def summarise_attribution(verdicts: list[dict], n_answers: dict[str, int] | None = None, seed: int = 0) -> dict:
    """Share of attributed errors by cause, overall and per capability, with bootstrap 95% CIs."""
    groups = defaultdict(list)
    for v in verdicts:
        groups["all"].append(v)
        groups[v["capability"]].append(v)
    out = {}
    for key, vs in sorted(groups.items()):
        attributed = [v for v in vs if v["cause"] != "unattributed"]
        is_perception = [v["cause"] == "perception" for v in attributed]
        lo, hi = bootstrap_ci(is_perception, seed=seed)
        out[key] = {
            "errors": len(vs),
            **{c: sum(v["cause"] == c for v in vs) for c in CAUSES},
            "perception_share": float(np.mean(is_perception)) if attributed else float("nan"),
            "perception_share_ci95": [lo, hi],
        }
        if n_answers and key in n_answers:
            out[key]["answers"] = n_answers[key]
    return out


def model_answerer(model, processor, max_new_tokens: int = 96, batch_size: int = 64, seed: int = 0) -> Answerer:
    """Greedy answers of a model, through the same generation path as evaluation."""

    def answer(records: list[dict]) -> list[str]:
        outs = generate(
            model,
            processor,
            records,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
            desc="attribution probes",
        )
        return [c.text for (c,) in outs]

    return answer
