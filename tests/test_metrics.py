"""Answer-prior baselines and bootstrap CIs on hand-made records with known answers."""

import math

import pytest

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
