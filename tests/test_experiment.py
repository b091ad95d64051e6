"""The reproduction study: paired statistics and verdicts on hand-made numbers, and a tiny end-to-end run."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seethink.eval.claims import against_null, evaluate_claims, verdict
from seethink.eval.metrics import paired, t975
from seethink.experiment import load_study, zero_signal

PAPER = load_study(Path(__file__).resolve().parents[1] / "experiments" / "paper" / "study.yaml")


def test_paired_difference_and_t_interval():
    p = paired({0: 0.5, 1: 0.6, 2: 0.7}, {0: 0.4, 1: 0.4, 2: 0.6, 3: 0.9})  # seed 3 has no partner
    assert p["seeds"] == [0, 1, 2]
    assert p["mean"] == pytest.approx(0.4 / 3)
    sd = 0.0577350269  # of the differences 0.1, 0.2, 0.1
    half = 4.303 * sd / 3**0.5
    assert p["ci95"] == pytest.approx([0.4 / 3 - half, 0.4 / 3 + half])
    assert paired({0: 110.0}, {0: 100.0}, relative=True)["mean"] == pytest.approx(10.0)
    assert paired({0: 1.0}, {1: 1.0})["n"] == 0
    assert t975(3) == 3.182
    assert t975(12) == 2.228  # between entries: the wider value


def _items(bits: str, ids: str = "same") -> dict:
    return {c: {"ids": ids, "correct": bits} for c in ("perception", "text_reasoning", "visual_reasoning")}


def test_record_pairing_adds_the_test_sets_spread_to_the_seeds():
    """Seeds that agree to a hair do not decide a difference that another draw of the records could undo."""
    from seethink.eval.claims import compare

    n = 400
    a_bits = "1" * 210 + "0" * 190  # a: 210/400 right; b misses one of a's hits and gets 5 of a's misses
    b_bits = "0" + "1" * 214 + "0" * 185
    a = {s: {**row("a", s, 0.525 + 1e-4 * s, 0.525), "items": _items(a_bits)} for s in range(3)}
    b = {s: {**row("b", s, 0.535 + 1e-4 * s, 0.535), "items": _items(b_bits)} for s in range(3)}
    for rows, bits in ((a, a_bits), (b, b_bits)):
        for r in rows.values():
            r["accuracy"] = {c: bits.count("1") / n for c in r["accuracy"]}
            r["overall"] = bits.count("1") / n
    seeds_only = compare({s: {k: v for k, v in r.items() if k != "items"} for s, r in a.items()}, b, "perception")
    assert seeds_only["item_se"] is None and verdict(seeds_only["ci95"], 1) == "not reproduced (opposite direction)"
    p = compare(a, b, "perception")
    d = np.array([1.0] + [0.0] * 209 + [-1.0] * 5 + [0.0] * 185)
    assert p["item_se"] == pytest.approx(d.std(ddof=1) / n**0.5)
    assert p["mean"] == pytest.approx(-0.01) and p["ci95_seeds"] == pytest.approx([-0.01, -0.01])
    assert p["ci95"] == pytest.approx([-0.01 - 1.96 * p["item_se"], -0.01 + 1.96 * p["item_se"]])
    assert verdict(p["ci95"], 1) == "inconclusive"  # 6 records of 400 differ, net 4: not a decided difference
    overall = compare(a, b, "overall")  # three capabilities with the same records: a third of the variance each
    assert overall["item_se"] == pytest.approx(p["item_se"] / 3**0.5)
    b[1]["items"]["perception"]["ids"] = "other"  # other records: no pairing, seeds only
    assert compare(a, b, "perception")["item_se"] is None
    assert compare(a, b, "think_visual_reasoning")["item_se"] is None


def test_rows_keep_per_record_scores_and_old_rows_get_them_from_their_run(tmp_path):
    from seethink.eval.claims import item_scores, load_results

    samples = tmp_path / "runs" / "staged-s0" / "eval" / "final-test" / "samples.jsonl"
    samples.parent.mkdir(parents=True)
    recs = [{"id": f"perception-test-{i}", "capability": "perception", "accuracy": float(i % 2)} for i in (3, 1, 2)]
    samples.write_text("".join(json.dumps(r) + "\n" for r in recs))
    scores = item_scores(samples)
    assert scores["perception"]["correct"] == "101"  # in id order: 1, 2, 3
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "staged-s0.json").write_text(json.dumps({**row("staged", 0, 0.5, 0.5), "split": "test"}))
    _, runs = load_results(tmp_path)
    assert runs["staged"][0]["items"] == scores
    assert json.loads((tmp_path / "results" / "staged-s0.json").read_text())["items"] == scores  # written back


@pytest.mark.parametrize(
    "ci, direction, expected",
    [
        ([0.01, 0.05], 1, "reproduced"),
        ([-0.05, -0.01], -1, "reproduced"),
        ([-0.05, -0.01], 1, "not reproduced (opposite direction)"),
        ([-0.01, 0.05], 1, "inconclusive"),
        (None, 1, "inconclusive (fewer than 2 seeds)"),
    ],
)
def test_verdicts(ci, direction, expected):
    assert verdict(ci, direction) == expected


def row(config, seed, perception, vr, think=20.0):
    acc = {"perception": perception, "text_reasoning": 0.3, "visual_reasoning": vr}
    return {
        "config": config,
        "seed": seed,
        "accuracy": acc,
        "overall": sum(acc.values()) / 3,
        "think_tokens": {"perception": 5.0, "text_reasoning": 10.0, "visual_reasoning": think},
    }


def test_claims_from_hand_made_results():
    runs = {
        "staged": {s: row("staged", s, 0.5 + 0.01 * s, 0.60, think=16.0 + s) for s in range(3)},
        "merged": {s: row("merged", s, 0.4, 0.62 + 0.001 * s, think=20.0) for s in range(3)},
    }
    base = {"vr_perception_share": 0.83, "vr_perception_share_ci95": [0.79, 0.87], "vr_errors": 300}
    claims = {c["claim"]: c for c in evaluate_claims(PAPER, base, runs)}
    assert claims["1"]["verdict"] == "reproduced"
    assert "83.0%" in claims["1"]["miniature"]
    assert claims["2b"]["verdict"] == "reproduced"
    assert claims["2b"]["estimate"] == pytest.approx(0.11)
    assert claims["2a"]["verdict"] == "not reproduced (opposite direction)"
    assert claims["3"]["verdict"] == "reproduced"
    assert claims["3"]["estimate"] == pytest.approx(-15.0)
    assert claims["5"]["verdict"] == "not run"
    assert claims["6c"]["verdict"] == "not run"
    assert evaluate_claims(PAPER, None, {})[0]["verdict"] == "not run"


def test_zero_signal_profile_of_a_stage():
    metrics = [
        {"frac_zero_std": v, "step": i} for i, v in enumerate([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0])
    ]
    metrics.insert(3, {"loss": 0.1})  # update-only steps log no rollout numbers
    assert zero_signal(metrics) == pytest.approx([0.05, 0.25, 0.45, 0.65, 0.9])
    assert zero_signal(metrics[:4]) is None


def test_filter_figures_of_a_filtered_stage():
    """Online group filtering's figures: shares by fifth, the rounds that drew again, and the extra completions
    (a round's completions per device × extra rounds); nothing for a stage without filtering."""
    from seethink.experiment import filter_figures
    from seethink.recipe import load_recipe, rollouts

    stage = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "staged.yaml").stages[0]
    per_round = rollouts(stage) // (stage.steps // 2)  # two updates per rollout round
    rounds = [
        {"filter_zero_std_share": z, "filter_signal_share": 1.0, "filter_extra_rounds": e}
        for z, e in zip([0.1, 0.0, 0.2, 0.0, 0.3], [1, 0, 1, 0, 1])
    ]
    metrics = [row for r in rounds for row in (r, {"loss": 0.1})]
    f = filter_figures(metrics, stage)
    assert f["filter_zero_std_share"] == pytest.approx([0.1, 0.0, 0.2, 0.0, 0.3])
    assert f["filter_signal_share"] == [1.0] * 5
    assert f["extra_rounds_share"] == 0.6 and f["extra_rollouts"] == 3 * per_round == 3 * 256
    assert filter_figures([{"loss": 0.1, "frac_zero_std": 0.2}], stage) == {}


def test_each_configuration_against_the_null_and_the_report(tmp_path):
    from seethink.experiment import write_report

    runs = {
        "staged": {s: row("staged", s, 0.60 + 0.01 * s, 0.60) for s in range(3)},
        "merged": {s: row("merged", s, 0.45 + 0.02 * s, 0.50) for s in range(3)},
        "staged-null": {s: row("staged-null", s, 0.45 + 0.01 * s, 0.50) for s in range(3)},
    }
    gains = against_null(PAPER, runs)
    assert PAPER.control == "staged-null" and set(gains) == {"staged", "merged"}
    assert (
        gains["staged"]["mean"] == pytest.approx((0.15 + 0.10) / 3) and gains["staged"]["verdict"] == "above the null"
    )
    assert gains["merged"]["verdict"] == "inconclusive"  # 0, +0.3, +0.7 points over the null: the CI spans 0
    for config, by_seed in runs.items():
        for s, r in by_seed.items():
            r.update(
                ci95={},
                n={},
                vr_perception_share=0.8,
                rollouts=100,
                train_seconds=1.0,
                stages=[{"name": "perception", "frac_zero_std": [0.1, 0.2, 0.3, 0.4, 0.5 + 0.1 * s]}],
            )
            (tmp_path / "results").mkdir(exist_ok=True)
            (tmp_path / "results" / f"{config}-s{s}.json").write_text(json.dumps(r))
    report = write_report(PAPER, tmp_path).read_text()
    assert "## Against the null (staged-null)" in report and "| staged | +8.3 |" in report
    assert "| merged | perception | 10% → 20% → 30% → 40% → 60% |" in report
    assert (tmp_path / "against-null.png").stat().st_size > 5_000
    from seethink.report.study import _zero_signal_rows

    assert _zero_signal_rows(["x"], {"x": {0: {"stages": [{"name": "sft", "frac_zero_std": None}]}}}) == []


def test_a_control_that_is_not_a_configuration_is_one_line(tmp_path):
    from seethink.errors import SeethinkError

    p = tmp_path / "s.yaml"
    p.write_text("name: x\nconfigurations: {a: ../../recipes/staged.yaml}\ncontrol: b\n")
    with pytest.raises(SeethinkError, match=r"s\.yaml: control: 'b' is not a configuration of the study"):
        load_study(p)


def test_a_study_builds_a_world_of_its_own_settings_once_and_refuses_another(tmp_path):
    from seethink.errors import SeethinkError
    from seethink.study_world import prepare_world

    p = tmp_path / "s.yaml"
    p.write_text(
        "name: x\nconfigurations: {a: ../../recipes/staged.yaml}\nworld_seed: 9\nworld: {families: v5}\n"
        "world_sizes: {train: 6, validation: 3, test: 4}\n"
    )
    study = load_study(p)
    world = prepare_world(study, tmp_path / "w", Path("unused"), needs_pass_rates=False)
    meta = json.loads((world / "world.json").read_text())
    assert meta["seed"] == 9 and meta["config"]["families"] == "v5" and meta["sizes"]["test"] == 4
    assert {json.loads(x)["family"] for x in (world / "perception" / "train.jsonl").read_text().splitlines()} == {
        "identify"
    }
    stamp = (world / "world.json").stat().st_mtime_ns
    prepare_world(study, world, Path("unused"), needs_pass_rates=False)  # found, not rebuilt
    assert (world / "world.json").stat().st_mtime_ns == stamp
    with pytest.raises(SeethinkError, match="built with other settings than the study's"):
        prepare_world(load_study(p, ["world_seed=10"]), world, Path("unused"), needs_pass_rates=False)


@pytest.mark.parametrize(
    "line, says",
    [
        ("world: {familes: v5}", r"world\.familes: unknown key.*families"),
        ("world: {families: v9}", "world: families must be one of v4, v5"),
        ("world_sizes: {tests: 5}", r"world_sizes\.tests: unknown split.*test"),
        ("world_sizes: {test: 0}", r"world_sizes\.test: must be >= 1"),
    ],
)
def test_bad_study_world_settings_are_one_line(tmp_path, line, says):
    from seethink.errors import SeethinkError

    p = tmp_path / "s.yaml"
    p.write_text(f"name: x\nconfigurations: {{a: ../../recipes/staged.yaml}}\n{line}\n")
    with pytest.raises(SeethinkError, match=says):
        load_study(p)


@pytest.mark.slow
def test_tiny_study_end_to_end_and_resume(world_dir, tmp_path):
    args = [
        sys.executable,
        "-m",
        "seethink",
        "experiment",
        "paper",
        "--quick",
        "--seeds",
        "1",
        "--step-scale",
        "0.01",
        "--only",
        "merged,staged",
        "--world",
        str(world_dir),
        "--out",
        str(tmp_path / "xp"),
    ]
    p = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    results = sorted(f.name for f in (tmp_path / "xp" / "results").glob("*.json"))
    assert results == ["base.json", "merged-s0.json", "staged-s0.json"]
    staged = json.loads((tmp_path / "xp" / "results" / "staged-s0.json").read_text())
    assert staged["steps"] == 6  # one rollout round (2 updates) per stage
    assert [s["name"] for s in staged["stages"]] == ["perception", "text_reasoning", "visual_reasoning"]
    assert staged["split"] == "validation"
    assert staged["n"]["visual_reasoning"] == 28
    assert len(staged["items"]["visual_reasoning"]["correct"]) == 28  # per-record scores: claims pair by record
    assert json.loads((tmp_path / "xp" / "claims.json").read_text())[2]["item_se"] > 0
    report = (tmp_path / "xp" / "reproduction.md").read_text()
    assert "| 2a | Staged beats merged on visual reasoning |" in report
    assert "Indicative only" in report
    assert (tmp_path / "xp" / "accuracy.png").stat().st_size > 10_000
    again = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0
    assert again.stdout.count("done, skipped") == 2
    (tmp_path / "xp" / "results" / "merged-s0.json").unlink()
    only_report = subprocess.run(args + ["--report-only"], capture_output=True, text=True, timeout=300)
    assert only_report.returncode == 0
    assert "training" not in only_report.stdout
    report = (tmp_path / "xp" / "reproduction.md").read_text()
    assert "Partial: 1 of 2 planned runs finished" in report
    assert "| 2a | Staged beats merged on visual reasoning | +1.1 to +3.8 avg | not run | not run |" in report


def test_unknown_configuration_is_one_line(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "seethink", "experiment", "paper", "--only", "stagd", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 2
    assert "unknown configuration(s) stagd" in p.stderr
    assert "Traceback" not in p.stderr


HOLDER = """
import sys, time
from seethink.fileio import writer_lock
with writer_lock(sys.argv[1], "seethink experiment"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_two_processes_share_a_study_folder_run_by_run(world_dir, tmp_path, monkeypatch, capsys):
    """Another process holding (merged, seed 0) makes this one skip that run and take the rest; the held run is
    left to its holder, and the report says the study is partial until it lands."""
    import seethink.experiment as xp

    cap = {"accuracy": 0.5, "ci95": [0.4, 0.6], "n": 10, "mean_think_tokens": 9.0}
    summary = {
        "capability": {c: cap for c in ("perception", "text_reasoning", "visual_reasoning")},
        "attribution": {
            "visual_reasoning": {
                "errors": 5,
                "perception": 4,
                "perception_share": 0.8,
                "perception_share_ci95": [0.5, 0.9],
            }
        },
    }
    trained = []

    def fake_run(study, src, out, config, seed, world):
        trained.append((config, seed))
        return xp.result_row(config, seed, summary, {"stages": [], "rollouts": 1, "train_seconds": 1.0})

    monkeypatch.setattr(xp, "run_one", fake_run)
    monkeypatch.setattr(xp, "_final_eval", lambda *a, **k: summary)
    out = tmp_path / "xp"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out / "results" / "merged-s0.json")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        study = Path(__file__).resolve().parents[1] / "experiments" / "paper" / "study.yaml"
        report = xp.run_study(study, out, ["seeds=[0, 1]"], ("merged", "staged"), world_dir)
    finally:
        holder.kill()
        holder.wait()
    assert trained == [("staged", 0), ("merged", 1), ("staged", 1)]
    assert f"merged seed 0: running in pid {holder.pid} on " in capsys.readouterr().out
    assert "Partial: 3 of 4 planned runs finished" in report.read_text()
    assert not (out / "results" / "merged-s0.json").exists()
    xp.run_study(study, out, ["seeds=[0, 1]"], ("merged",), world_dir)  # the holder died: its run is taken over
    assert trained[-1] == ("merged", 0) and (out / "results" / "merged-s0.json").is_file()


def test_trace_length_on_correct_worked_answers_only():
    """Evaluation keeps the worked share and the think tokens of correct worked answers; a claim on them skips
    rows that predate them."""
    from seethink.eval.evaluate import summarise
    from seethink.experiment import Claim

    def r(completion, acc, think):
        return {
            "capability": "visual_reasoning",
            "family": "points",
            "completion": completion,
            "accuracy": acc,
            "format": 1.0,
            "completion_tokens": think + 4,
            "think_tokens": think,
        }

    rows = [
        r("<think>There are 2 circles: 2 * 3 = 6.</think>\\boxed{6}", 1.0, 12),
        r("<think>The red circle scores 3. The blue circle scores 3. 3 + 3 = 6.</think>\\boxed{6}", 1.0, 20),
        r("<think>There are 3 circles.</think>\\boxed{9}", 0.0, 30),
        r("<think>Answer: 6.</think>\\boxed{6}", 1.0, 3),
    ]
    s = summarise(rows)["capability"]["visual_reasoning"]
    assert s["worked_share"] == 0.75 and s["worked_correct_think_tokens"] == 16.0
    assert s["mean_think_tokens"] == pytest.approx(65 / 4)
    assert summarise(rows[3:])["capability"]["visual_reasoning"]["worked_correct_think_tokens"] is None

    study = dataclasses.replace(
        PAPER,
        claims=[
            Claim(
                "5t",
                "shorter",
                "",
                "staged",
                "merged",
                metric="worked_think_visual_reasoning",
                direction=-1,
                relative=True,
            )
        ],
    )
    runs = {k: {s: row(k, s, 0.5, 0.5) for s in range(3)} for k in ("staged", "merged")}
    for s in range(3):
        runs["staged"][s]["worked_think_tokens"] = {"visual_reasoning": 16.0 + s}
        if s < 2:  # seed 2's merged row predates the metric: left out
            runs["merged"][s]["worked_think_tokens"] = {"visual_reasoning": 20.0 + s}
    (c,) = evaluate_claims(study, None, runs)
    assert "2 seeds" in c["miniature"] and c["estimate"] == pytest.approx(np.mean([-20.0, -100 * 4 / 21]))
