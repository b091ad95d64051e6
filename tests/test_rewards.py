"""Rewards on real strings, including adversarial ones that must return at once."""

import time

import pytest

from seethink.rewards import accuracy, extract_boxed, format_ok, parse_number, score

OPTS = ["3", "0", "2", "1"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<think>a</think>\\boxed{B}", "B"),
        ("\\boxed{1} and later \\boxed{ 2 }", "2"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{x} then \\boxed{unterminated", "x"),
        ("no box here", None),
        ("\\boxed{}", ""),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "text,ok",
    [
        ("<think>I count 2.</think>\\boxed{C}", True),
        ("<think>I count 2.</think> The answer is \\boxed{C}", True),
        ("\\boxed{C}", False),
        ("<think>I count 2.\\boxed{C}", False),  # unterminated think
        ("<think>x</think>", False),  # no answer
        ("preamble <think>x</think>\\boxed{C}", False),  # must open with the think block
        ("<think>x</think>\\boxed{C", False),
    ],
)
def test_format(text, ok):
    assert format_ok(text) is ok


@pytest.mark.parametrize(
    "pred,acc",
    [
        ("C", 1),
        ("(C)", 1),
        ("C.", 1),
        ("option C", 1),
        ("\\text{C}", 1),
        ("2", 1),
        ("C. 2", 1),
        ("c", 0),  # lower-case letters are not read as options (the paper's parser read the article "a" as A)
        ("A", 0),
        ("C, D", 0),
        ("C or D", 0),
        ("C. 3", 0),
        ("", 0),
    ],
)
def test_mcq_accuracy(pred, acc):
    assert accuracy(f"<think>x</think>\\boxed{{{pred}}}", "C", OPTS) == acc


@pytest.mark.parametrize(
    "pred,gold,acc",
    [
        ("7", "7", 1),
        ("7.0", "7", 1),
        ("07", "7", 1),
        ("\\frac{14}{2}", "7", 1),
        ("1,000", "1000", 1),
        ("8", "7", 0),
        ("seven", "7", 0),
        ("7 apples", "7", 0),
        ("-3", "-3", 1),
        ("1/0", "0", 0),
    ],
)
def test_numeric_accuracy(pred, gold, acc):
    assert accuracy(f"\\boxed{{{pred}}}", gold) == acc


def test_total_weights():
    assert score("<think>x</think>\\boxed{C}", "C", OPTS).total == pytest.approx(1.0)
    assert score("<think>x</think>\\boxed{A}", "C", OPTS).total == pytest.approx(0.1)
    assert score("\\boxed{C}", "C", OPTS).total == pytest.approx(0.9)
    assert score("nothing", "C", OPTS).total == 0


@pytest.mark.parametrize(
    "text",
    [
        "\\boxed{" + "{" * 10000 + "1",
        "\\boxed{" * 10000,
        "\\boxed{" + "9" * 100000 + "}",
        "<think>" * 10000 + "</think" * 10000,
        "\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}",
        "\\boxed{" + "}" * 10000,
    ],
)
def test_adversarial_strings_return_within_a_second(text):
    t = time.perf_counter()
    s = score(text, "1")
    assert time.perf_counter() - t < 1.0
    assert s.accuracy == 0


def test_huge_numbers_are_not_parsed():
    assert parse_number("9" * 31) is None
    assert parse_number("9" * 30) == int("9" * 30)


# ---------------------------------------------------------------- symbolic equivalence (math-verify in a worker)


@pytest.mark.parametrize(
    "pred,gold,acc",
    [
        ("\\sqrt{3}/2", "\\frac{\\sqrt{3}}{2}", 1),
        ("(x+1)^2", "x^2+2x+1", 1),
        ("\\frac{\\pi}{2}", "\\pi/2", 1),
        ("x^3", "x^2", 0),
        ("\\sqrt{2}", "\\frac{\\sqrt{3}}{2}", 0),
        ("blue", "\\frac{1}{2}", 0),
    ],
)
def test_symbolic_accuracy(pred, gold, acc):
    assert accuracy(f"<think>x</think>\\boxed{{{pred}}}", gold) == acc


@pytest.mark.parametrize(
    "pred", ["10^{10^{10}}", "100000!", "2^{999999}", "9^9^9^9", "\\prod_{k=1}^{10^9} k", "x" * 500]
)
def test_symbolic_bombs_return_within_a_second(pred):
    from seethink.mathcheck import _checker

    _checker.warm()  # the worker's start-up (importing sympy) is not part of a comparison
    t = time.perf_counter()
    assert accuracy(f"\\boxed{{{pred}}}", "\\frac{1}{2}") == 0
    assert time.perf_counter() - t < 1.0


def test_the_worker_warm_up_exercises_the_real_comparisons():
    """Each WARM_UP pair is equal: a pair that failed to parse would return at once and warm nothing up (the
    first polynomial comparison in a process took 0.58 s, past the old 0.5 s deadline, and failed CI)."""
    from seethink.mathcheck import WARM_UP, Checker

    c = Checker(timeout=30)
    try:
        assert [c.equal(gold, pred) for gold, pred in WARM_UP] == [True] * len(WARM_UP)
    finally:
        c.close()


def test_symbolic_worker_is_killed_at_the_deadline_and_replaced(monkeypatch):
    from seethink.mathcheck import Checker

    c = Checker(timeout=30)
    try:
        c.warm()
        # the answer does not arrive before the deadline (simulated: a real 0.1 ms deadline races the worker)
        monkeypatch.setattr(c._conn, "poll", lambda timeout: False)
        assert c.decide("\\frac{1}{2}", "0.5") is None
        assert c.kills == 1
        assert c._proc is None
        assert c.equal("\\frac{1}{2}", "1/2") is True
        assert c.kills == 1  # a fresh worker answered
        c._proc.kill()  # a worker that died between calls is replaced too
        c._proc.join(5)
        assert c.equal("\\frac{1}{2}", "1/2") is True
    finally:
        c.close()


def _undecided_first(monkeypatch, times: int) -> list:
    """The shared checker answers None (deadline hit) to its first `times` comparisons; returns the call log."""
    from seethink import mathcheck

    real, calls = mathcheck._checker.decide, []

    def decide(gold, pred):
        calls.append((gold, pred))
        return None if len(calls) <= times else real(gold, pred)

    monkeypatch.setattr(mathcheck._checker, "decide", decide)
    return calls


def test_a_timed_out_comparison_is_not_remembered_as_wrong(monkeypatch):
    from seethink import mathcheck

    calls = _undecided_first(monkeypatch, 1)
    assert mathcheck.equivalent("\\frac{3}{7}", "6/14") is False
    assert mathcheck.equivalent("\\frac{3}{7}", "6/14") is True  # decided now, not the cached timeout
    assert mathcheck.equivalent("\\frac{3}{7}", "6/14") is True
    assert len(calls) == 2  # the verdict is cached


def test_a_pair_that_times_out_twice_is_not_tried_again(monkeypatch):
    from seethink import mathcheck

    calls = _undecided_first(monkeypatch, 2)
    assert [mathcheck.equivalent("\\frac{5}{7}", "10/14") for _ in range(4)] == [False] * 4
    assert len(calls) == 2  # a bomb costs two deadlines, then the cache answers


def test_a_worker_that_does_not_start_is_reported(monkeypatch):
    from seethink import mathcheck

    monkeypatch.setattr(mathcheck, "START_TIMEOUT", 1e-4)  # no worker imports sympy this fast
    c = mathcheck.Checker()
    try:
        with pytest.warns(RuntimeWarning, match="math-verify worker did not start"):
            assert c.decide("\\frac{1}{2}", "1/2") is None
    finally:
        c.close()


def test_symbolic_check_works_off_the_main_thread():
    import threading

    from seethink.mathcheck import equivalent

    out = []
    t = threading.Thread(target=lambda: out.append(equivalent("x^2+2x+1", "(x+1)^2")))
    t.start()
    t.join(30)
    assert out == [True]


def test_symbolic_check_works_from_a_script_without_a_main_guard(tmp_path):
    """A multiprocessing worker re-imports the caller's main script; without `if __name__ == "__main__":` every
    worker died at start-up and each comparison stalled for START_TIMEOUT (60 s), then scored 0."""
    import subprocess
    import sys

    script = tmp_path / "score.py"
    script.write_text(
        "from seethink.rewards import accuracy\n"
        "print(accuracy('<think>x</think>\\\\boxed{\\\\frac{\\\\sqrt{3}}{2}}', '\\\\sqrt{3}/2'))\n"
    )
    t = time.perf_counter()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=50)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.0"
    assert time.perf_counter() - t < 30  # start-up of the worker (sympy) included; the old stall was 60 s


def test_the_null_control_permutes_rewards_within_each_group_only():
    from seethink.rewards import REWARDS, shuffled_within_groups

    ids = ["a"] * 4 + ["b"] * 4
    answers = ["3"] * 4 + ["7"] * 4
    completions = [f"<think>x</think>\\boxed{{{v}}}" for v in ("3", "1", "3", "2")] + [
        "<think>x</think>\\boxed{7}",
        "no format",
        "<think>x</think>\\boxed{7}",
        "<think>y</think>\\boxed{1}",
    ]
    acc, fmt = REWARDS["accuracy"], REWARDS["format"]
    true_acc = acc(completions=completions, answer=answers, id=ids)
    true_fmt = fmt(completions=completions, answer=answers, id=ids)
    for seed in range(20):
        s_acc = shuffled_within_groups(acc, seed)(completions=completions, answer=answers, id=ids)
        s_fmt = shuffled_within_groups(fmt, seed)(completions=completions, answer=answers, id=ids)
        for g in (slice(0, 4), slice(4, 8)):  # each group keeps its rewards, only their owners change
            assert sorted(s_acc[g]) == sorted(true_acc[g])
            assert sorted(s_fmt[g]) == sorted(true_fmt[g])
        # both rewards of one batch get the same permutation: the pairs (accuracy, format) survive
        assert sorted(zip(s_acc, s_fmt)) == sorted(zip(true_acc, true_fmt))
    moved = [
        shuffled_within_groups(acc, seed)(completions=completions, answer=answers, id=ids) != true_acc
        for seed in range(20)
    ]
    assert sum(moved) >= 15  # a real permutation, not the identity
    assert shuffled_within_groups(acc, 0).__name__ == acc.__name__  # TRL's log column keeps its name
