"""Answer-prior baselines and bootstrap CIs on hand-made records with known answers."""

import math

import pytest
from conftest import load_benchmark

from seethink.eval.metrics import bootstrap_ci, prior_accuracy


def mcq(answer, options, family="count"):
    return {"family": family, "answer": answer, "options": options}


def test_numeric_prior_is_the_most_frequent_gold_answer():
    train = [{"family": "subtract", "answer": a, "options": None} for a in ["3", "3", "3", "1", "2"]]
    test = [{"family": "subtract", "answer": a, "options": None} for a in ["3", "1", "3.0", "4"]]
    assert prior_accuracy(train, test) == {"subtract": 0.5}  # "3" and "3.0" hit; "1" and "4" miss


def test_mcq_prior_takes_the_better_of_letter_and_option_text():
    # gold text is always "2" in train; its letter varies, so the text prior beats the letter prior
    train = [
        mcq(letter, opts)
        for letter, opts in [
            ("A", ["2", "0", "1", "3"]),
            ("B", ["0", "2", "1", "3"]),
            ("C", ["0", "1", "2", "3"]),
            ("D", ["0", "1", "3", "2"]),
        ]
    ]
    test = [mcq("C", ["1", "3", "2", "0"]), mcq("A", ["2", "1", "0", "3"]), mcq("B", ["3", "1", "0", "2"])]
    assert prior_accuracy(train, test)["count"] == pytest.approx(2 / 3)
    # with balanced letters and no repeated text, neither prior beats chance on this test set
    train2 = [mcq(c, [f"{c}{i}" for i in range(4)]) for c in "ABCD"]
    assert prior_accuracy(train2, test)["count"] == pytest.approx(1 / 3)  # letter prior "A": 1 of 3


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_n():
    lo, hi = bootstrap_ci([0, 1] * 50)
    assert lo < 0.5 < hi
    assert hi - lo < 0.25
    lo2, hi2 = bootstrap_ci([0, 1] * 500)
    assert hi2 - lo2 < hi - lo
    assert bootstrap_ci([1, 1, 1]) == (1.0, 1.0)
    assert all(math.isnan(x) for x in bootstrap_ci([]))


def test_sampled_ratio_pairs_greedy_and_sampled_per_record_and_names_a_folder_without_samples(tmp_path, capsys):
    """benchmarks/sampled_ratio.py: sampled / greedy on the same records, its paired interval, a one-line error."""
    import json

    mod = load_benchmark("sampled_ratio")
    r = mod.ratio([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.0], boot=500)
    assert (r["greedy"], r["sampled"], r["ratio"]) == (0.5, 0.375, 0.75)
    assert r["ci"][0] <= 0.75 <= r["ci"][1] and r["ci"][0] < r["ci"][1]
    # Pairing: when sampled tracks greedy record by record, the ratio's interval is narrow.
    same = mod.ratio([1, 0] * 100, [0.75, 0.0] * 100, boot=500)
    assert same["ratio"] == 0.75 and same["ci"] == pytest.approx([0.75, 0.75])

    folder = tmp_path / "eval"
    folder.mkdir()
    rows = [
        {"id": f"p{i}", "capability": "perception", "accuracy": float(i < 2), "sampled_correct": c}
        for i, c in enumerate([4, 2, 2, 0])
    ]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "summary.json").write_text(json.dumps({"capability": {"perception": {"k": 8}}}))
    assert mod.main([str(folder), "--json", str(tmp_path / "r.json")]) == 0
    got = json.loads((tmp_path / "r.json").read_text())[str(folder)]["perception"]
    assert got["n"] == 4 and got["ratio"] == 0.5  # greedy 0.5, sampled (0.5 + 0.25 + 0.25 + 0) / 4
    (folder / "summary.json").write_text(json.dumps({"capability": {}}))
    assert mod.main([str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "samples.jsonl" in err and "--samples" in err
    (folder / "samples.jsonl").write_text("{not json\n")
    assert mod.main([str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "samples.jsonl" in err
