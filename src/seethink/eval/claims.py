"""A study's claims: its result rows compared, paired by seed and by test record, with a 95% CI and a verdict.

`seethink.experiment` runs a study and keeps one result row per (configuration, seed) under `results/`; this module
reads them and says what they show. A difference between two configurations is the mean over seeds of their
per-seed difference. Its CI adds in quadrature the seeds' Student-t half-width and, for accuracies, the test set's
sampling spread (1.96 standard errors of the per-record differences averaged over seeds): with a few seeds on one
fixed test set, the seeds alone would call a fraction of a point decided. Verdict: reproduced if the CI excludes 0
in the paper's direction, not reproduced if it excludes 0 in the other direction, inconclusive otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from seethink.eval import stats
from seethink.eval.metrics import item_noise_se, paired, with_item_noise
from seethink.fileio import write_json
from seethink.records.schema import CAPABILITIES


def item_scores(samples: Path) -> dict[str, dict]:
    """Per capability, every record's accuracy in record-id order as a string of 0/1 digits, with a digest of the
    ids (two runs' records pair only if the digests match): from an evaluation's samples.jsonl. Result rows keep it
    as "items", so claims can pair two configurations record by record (their CIs then cover test-set sampling).
    No file (an evaluation that kept no samples): {} and the claims fall back to seeds only."""
    by_cap: dict[str, list[tuple[str, float]]] = {}
    if not samples.is_file():
        return {}
    for line in samples.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            by_cap.setdefault(r["capability"], []).append((r["id"], float(r["accuracy"])))
    out = {}
    for cap, rows in sorted(by_cap.items()):
        rows.sort()
        if any(a not in (0.0, 1.0) for _, a in rows):
            continue  # graded scores: no record-level pairing
        ids = hashlib.sha1("\n".join(i for i, _ in rows).encode()).hexdigest()[:16]
        out[cap] = {"ids": ids, "correct": "".join("1" if a else "0" for _, a in rows)}
    return out


def final_eval_dir(study_dir: Path, config: str, seed: int | None, split: str) -> Path:
    """Where a study keeps a run's final evaluation (samples.jsonl, summary.json); config "base": the base's."""
    if config == "base":
        return study_dir / "runs" / "base-eval" / split
    return study_dir / "runs" / f"{config}-s{seed}" / "eval" / f"final-{split}"


def load_results(study_dir: Path) -> tuple[dict | None, dict[str, dict[int, dict]]]:
    """The base row and every run's row, by configuration and seed. A row written before rows kept per-record
    scores gets them from its run folder's final samples if that is still there (and is rewritten with them)."""
    base, runs = None, {}
    for f in sorted((study_dir / "results").glob("*.json")):
        row = json.loads(f.read_text())
        split = row.get("split", "test")
        samples = final_eval_dir(study_dir, row["config"], row["seed"], split) / "samples.jsonl"
        if "items" not in row and samples.is_file():
            row["items"] = item_scores(samples)
            write_json(f, row)
        if row["config"] == "base":
            base = row
        else:
            runs.setdefault(row["config"], {})[row["seed"]] = row
    return base, runs


def metric(row: dict, name: str) -> float:
    if name == "overall":
        return row["overall"]
    if name == "vr_perception_share":
        return row["vr_perception_share"]
    if name.startswith("think_"):
        return row["think_tokens"][name[len("think_") :]]
    if name.startswith("worked_think_"):  # think tokens of correct worked answers (`seethink.styles`)
        value = (row.get("worked_think_tokens") or {}).get(name[len("worked_think_") :])
        if value is None:
            raise KeyError(name)
        return value
    return row["accuracy"][name]


def verdict(ci: list[float] | None, direction: int, null: float = 0.0) -> str:
    if ci is None:
        return "inconclusive (fewer than 2 seeds)"
    lo, hi = ci
    if (lo > null and direction > 0) or (hi < null and direction < 0):
        return "reproduced"
    if (hi < null and direction > 0) or (lo > null and direction < 0):
        return "not reproduced (opposite direction)"
    return "inconclusive"


def _threshold_claim(c, row: dict | None) -> dict:
    """A claim about one row's own metric against a fixed value (the base's perception share of errors)."""
    if row is None or row.get(c.metric) is None:
        return {"miniature": "not run", "verdict": "not run"}
    value, (lo, hi) = row[c.metric], row[f"{c.metric}_ci95"]
    return {
        "miniature": f"{value:.1%} [{lo:.1%}, {hi:.1%}] of {row['vr_errors']} wrong visual-reasoning answers "
        "(bootstrap 95% CI)",
        "verdict": verdict([lo, hi], c.direction, c.threshold),
        "estimate": value,
        "ci95": [lo, hi],
    }


def compare(a: dict[int, dict], b: dict[int, dict], name: str, relative: bool = False) -> dict:
    """Configuration a minus b on the metric `name`, paired by seed (`paired`). For an accuracy (a capability or
    the average) whose rows keep per-record scores of the same records, the CI also covers test-set sampling
    (`with_item_noise`); otherwise it is over seeds only ("item_se" None)."""
    p = paired(_values(a, name), _values(b, name), relative)
    return with_item_noise(p, None if relative else _item_se(a, b, p["seeds"], name))


def _values(rows: dict[int, dict], name: str) -> dict[int, float]:
    """Each seed's value of the metric, leaving out rows that lack it (rows written before it was kept)."""
    out = {}
    for s, r in rows.items():
        try:
            out[s] = metric(r, name)
        except KeyError:
            continue
    return out


def _item_se(a: dict[int, dict], b: dict[int, dict], seeds: list[int], name: str) -> float | None:
    caps = CAPABILITIES if name == "overall" else (name,) if name in CAPABILITIES else ()
    if not caps or not seeds:
        return None
    parts = []
    for cap in caps:
        pairs = [(a[s].get("items", {}).get(cap), b[s].get("items", {}).get(cap)) for s in seeds]
        if not all(x and y and x["ids"] == y["ids"] for x, y in pairs):
            return None
        diffs = [
            np.frombuffer(x["correct"].encode(), np.uint8).astype(float)
            - np.frombuffer(y["correct"].encode(), np.uint8).astype(float)
            for x, y in pairs
        ]
        parts.append((np.mean(diffs, axis=0), 1 / len(caps)))
    return item_noise_se(parts)


def evaluate_claims(study, base: dict | None, runs: dict[str, dict[int, dict]]) -> list[dict]:
    """Each of `study.claims` (a `seethink.experiment.Study`) on the result rows: estimate, 95% CI, verdict."""
    out = []
    for c in study.claims:
        row = {"claim": c.id, "text": c.text, "paper": c.paper}
        if not c.b:
            one = base if c.a == "base" else next(iter(runs.get(c.a, {}).values()), None)
            out.append({**row, **_threshold_claim(c, one)})
            continue
        p = compare(runs.get(c.a, {}), runs.get(c.b, {}), c.metric, c.relative)
        if p["n"] == 0:
            out.append({**row, "miniature": "not run", "verdict": "not run"})
            continue
        scale, unit = (1, "%") if c.relative else ((1, " tokens") if "think_" in c.metric else (100, " points"))
        ci = f" [{p['ci95'][0] * scale:+.1f}, {p['ci95'][1] * scale:+.1f}]" if p["ci95"] else ""
        noise = " x records" if p.get("item_se") is not None and p["ci95"] else ""
        out.append(
            {
                **row,
                "miniature": f"{p['mean'] * scale:+.1f}{unit}{ci} ({c.a} - {c.b}, {c.metric}, "
                f"{p['n']} seed{'s' if p['n'] > 1 else ''}{noise})",
                "verdict": verdict(p["ci95"], c.direction),
                "estimate": p["mean"],
                "ci95": p["ci95"],
                "ci95_seeds": p["ci95_seeds"],
                "item_se": p["item_se"],
                **_gain_ratio(c, base, runs, p["seeds"]),
                **({"tests": _tests(p)} if c.margin is not None else {}),
            }
        )
    return _decide(study.claims, out)


def _tests(p: dict) -> dict | None:
    """The raw tests of one comparison: its standard error (seeds and, where rows pair by record, test-set sampling,
    in quadrature), degrees of freedom (seeds - 1) and the unadjusted two-sided and TOST p's."""
    if p["se"] is None:
        return None
    se = math.sqrt(p["se"] ** 2 + (p["item_se"] or 0.0) ** 2)
    return {"se": se, "df": p["n"] - 1, "mde": stats.mde(se, p["n"] - 1)}


def _decide(claims, out: list[dict]) -> list[dict]:
    """Holm-correct the two-sided tests, and separately the equivalence tests, across the claims with a margin, and
    give each its decision."""
    rows = [(c, r) for c, r in zip(claims, out) if c.margin is not None and "tests" in r]
    tested = [(c, r) for c, r in rows if r["tests"] is not None]
    for c, r in rows:
        if r["tests"] is None:
            r["decision"] = "underpowered (fewer than 2 seeds)"
    two = [stats.p_two_sided(r["estimate"], r["tests"]["se"], r["tests"]["df"]) for _, r in tested]
    eq = [stats.p_equivalent(r["estimate"], r["tests"]["se"], r["tests"]["df"], c.margin) for c, r in tested]
    for (c, r), p2, pe, h2, he in zip(tested, two, eq, stats.holm(two), stats.holm(eq)):
        r["tests"].update(p_two_sided=p2, p_equivalent=pe, p_two_sided_holm=h2, p_equivalent_holm=he, margin=c.margin)
        r["decision"] = stats.decide(h2, r["estimate"], c.direction, he, c.margin, r["tests"]["mde"])
    return out


def _gain_ratio(c, base: dict | None, runs: dict[str, dict[int, dict]], seeds: list[int]) -> dict:
    """For an accuracy claim between two configurations: a's mean gain over the base divided by b's (the paper:
    staged's gain is 1.44x merged's), over the seeds both have."""
    accuracy = c.metric == "overall" or c.metric in CAPABILITIES
    if base is None or c.relative or not accuracy or not seeds:
        return {}
    try:
        start = metric(base, c.metric)
    except KeyError:  # a base row without accuracies
        return {}
    gains = [float(np.mean([metric(runs[k][s], c.metric) for s in seeds])) - start for k in (c.a, c.b)]
    return {"gains": gains, "gain_ratio": gains[0] / gains[1] if gains[1] else None}


def against_null(study, runs: dict[str, dict[int, dict]]) -> dict[str, dict]:
    """Each configuration's average accuracy minus the null's, paired by seed (and by record where rows keep
    per-record scores: `compare`): mean, 95% CI, verdict."""
    if not study.control or not runs.get(study.control):
        return {}
    out = {}
    for config in study.configurations:
        if config != study.control and runs.get(config):
            p = compare(runs[config], runs[study.control], "overall")
            if p["n"]:
                said = verdict(p["ci95"], 1)
                out[config] = {
                    **p,
                    "verdict": {
                        "reproduced": "above the null",
                        "not reproduced (opposite direction)": "below the null",
                    }.get(said, said),
                }
    return out
