"""Error attribution validated with scripted policies whose faults are known (no neural model involved).

A policy answers world records from their scene facts: it may misperceive (misread some counts) and/or
misreason (make an arithmetic slip). Attribution must recover the planted cause.
"""

import pytest

from seethink.eval.attribution import attribute, caption_record, count_probes, summarise_attribution
from seethink.records.io import load_records
from seethink.rewards import accuracy

# the gold answer of each visual-reasoning family is linear in its facts, with these coefficients
COEFFS = {"subtract": [1, -1], "add": [1], "compare": [1, -1], "multihop": [1, -1, -1, 1]}


def misread_colours(fact: dict) -> int:
    """Counts of coloured things are seen one too high; everything else is seen right."""
    return int(fact["value"]) + (1 if fact["subject"]["colour"] else 0)


def true_value(fact: dict) -> int:
    return int(fact["value"])


def policy(perceive, slip: int = 0):
    """Answer probes with the perceived count; reasoning questions by exact arithmetic on perceived facts,
    plus `slip`; questions given as a caption from the true facts (the text is read correctly), plus `slip`."""

    def answer(records):
        out = []
        for r in records:
            if r["family"] == "probe":
                want = str(perceive(r["facts"][0]))
                text = want if want in r["options"] else "none"
            elif r["id"].endswith("/caption"):
                text = str(int(r["answer"]) + slip)
            else:
                delta = sum(c * (perceive(f) - true_value(f)) for c, f in zip(COEFFS[r["family"]], r["facts"]))
                text = str(int(r["answer"]) + delta + slip)
            out.append(f"<think>scripted</think>\\boxed{{{text}}}")
        return out

    return answer


@pytest.fixture(scope="module")
def vr(world_dir):
    return load_records(world_dir / "visual_reasoning", "test")


def run(records, answer, method):
    correct = [accuracy(c, r["answer"]) == 1.0 for r, c in zip(records, answer(records))]
    return correct, attribute(records, correct, answer, method=method)


@pytest.mark.parametrize("method", ["facts", "caption"])
def test_misperceiving_policy_is_attributed_to_perception(vr, method):
    correct, verdicts = run(vr, policy(misread_colours), method)
    assert len(verdicts) == correct.count(False) >= 10  # enough planted errors to mean something
    assert all(v["cause"] == "perception" and v["method"] == method for v in verdicts)
    s = summarise_attribution(verdicts)["all"]
    assert s["perception_share"] == 1.0
    assert s["reasoning"] == 0


@pytest.mark.parametrize("method", ["facts", "caption"])
def test_misreasoning_policy_is_attributed_to_reasoning(vr, method):
    correct, verdicts = run(vr, policy(true_value, slip=1), method)
    assert len(verdicts) == len(vr)  # every answer is off by one
    assert all(v["cause"] == "reasoning" for v in verdicts)
    assert summarise_attribution(verdicts)["all"]["perception_share"] == 0.0


def test_always_right_policy_has_nothing_to_attribute(vr):
    correct, verdicts = run(vr, policy(true_value), "auto")
    assert all(correct)
    assert verdicts == []


def test_probes_are_balanced_mcqs_about_each_count_fact(vr):
    r = next(r for r in vr if r["family"] == "multihop")
    probes = count_probes(r, probes_per_fact=2)
    assert len(probes) == 2 * len(r["facts"])
    for p, f in zip(probes, [f for f in r["facts"] for _ in range(2)]):
        assert p["problem"].startswith("How many ")
        assert p["images"] == r["images"]
        assert p["options"]["ABCD".index(p["answer"])] == f["value"]
        assert len(set(p["options"])) == 4
    letters = {p["answer"] for r in vr for p in count_probes(r)}
    assert letters == set("ABCD")


def test_text_and_perception_errors_need_no_probes(world_dir):
    text = load_records(world_dir / "text_reasoning", "test")[:5]
    perc = load_records(world_dir / "perception", "test")[:5]

    def never_called(records):
        raise AssertionError("no probe should be asked")

    verdicts = attribute(text + perc, [False] * 10, never_called)
    assert [v["cause"] for v in verdicts] == ["reasoning"] * 5 + ["perception"] * 5


def test_caption_record_replaces_the_image_with_the_description(vr):
    c = caption_record(vr[0])
    assert c["images"] == []
    assert vr[0]["caption"] in c["problem"]
    assert c["answer"] == vr[0]["answer"]
