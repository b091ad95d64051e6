"""Base v5's question families (`world: families: v5`, issue 35): every answer recomputed from the scene graph by
parsing the question, independently of the generator; free-form answers; worked traces of more than one length."""

import re

import pytest
from conftest import load_benchmark

from seethink.errors import SeethinkError
from seethink.miniature.world.generate import WorldConfig, generate

REGIONS = [["top left", "top", "top right"], ["left", "centre", "right"], ["bottom left", "bottom", "bottom right"]]
SHAPE_WORDS = ("circle", "square", "triangle", "diamond")


def records(capability: str, n: int = 120, seed: int = 5) -> list[dict]:
    return [g.record for g in generate(capability, "train", n, seed, WorldConfig(families="v5"))]


def matching(objs: list[dict], phrase: str) -> list[dict]:
    """The objects a noun phrase ("small red circle", "red objects", "square") picks out."""
    words = phrase.removesuffix("s").split() if phrase.endswith("objects") else phrase.split()
    f = {}
    for w in words:
        w = w.rstrip("s") if w.rstrip("s") in SHAPE_WORDS else w
        if w in SHAPE_WORDS:
            f["shape"] = w
        elif w in ("small", "medium", "large"):
            f["size"] = w
        elif w != "object":
            f["colour"] = w
    return [o for o in objs if all(o[k] == v for k, v in f.items())]


def region(o: dict) -> str:
    return REGIONS[o["row"]][o["col"]]


RELATION = {
    "left of": lambda p, o: p["row"] == o["row"] and p["col"] < o["col"],
    "right of": lambda p, o: p["row"] == o["row"] and p["col"] > o["col"],
    "above": lambda p, o: p["col"] == o["col"] and p["row"] < o["row"],
    "below": lambda p, o: p["col"] == o["col"] and p["row"] > o["row"],
}


def identified(rec: dict) -> dict:
    objs = rec["scene"]["objects"]
    m = re.fullmatch(r"What is the object (left of|right of|above|below) the (.+)\?", rec["problem"])
    if m:
        (ref,) = matching(objs, m.group(2))
        (hit,) = [p for p in objs if p is not ref and RELATION[m.group(1)](p, ref)]
        return hit
    m = re.fullmatch(r"What is the object (?:at|in) the (.+)\?", rec["problem"])
    (hit,) = [o for o in objs if region(o) == m.group(1)]
    return hit


def test_identify_answers_name_the_object_asked_about_by_colour_and_shape():
    recs = records("perception")
    assert {r["family"] for r in recs} == {"identify"}
    for r in recs:
        o = identified(r)
        assert r["answer"] == f"{o['colour']} {o['shape']}" and r["options"] is None, r
        assert len(matching(r["scene"]["objects"], r["answer"])) == 1  # the answer names one object
    assert any(" of the " in r["problem"] or "above" in r["problem"] or "below" in r["problem"] for r in recs)
    assert len({r["answer"] for r in recs}) >= 20  # colour x shape: 24 answers, balanced


def test_points_and_stories_recompute_from_the_scene():
    recs = records("visual_reasoning")
    assert {r["family"] for r in recs} == {"points", "story"}
    for r in recs:
        objs = r["scene"]["objects"]
        if r["family"] == "points":
            worth = {
                s: int(v)
                for s, v in re.findall(r"(circle|square|triangle|diamond)s(?: are worth)? (\d+)", r["problem"].lower())
            }
            assert sorted(worth) == sorted(SHAPE_WORDS), r["problem"]
            (group,) = re.findall(r"How many points do the (.+) score\?", r["problem"])
            assert int(r["answer"]) == sum(worth[o["shape"]] for o in matching(objs, group)), r
        else:
            (phrase,) = re.findall(r"for every (.+) in the image\.", r["problem"])
            value = len(matching(objs, phrase))
            assert value >= 1
            for verb, k in re.findall(r"(gets|finds|buys|gives away|loses|uses) (\d+)", r["problem"]):
                value += int(k) if verb in ("gets", "finds", "buys") else -int(k)
                assert value >= 0
            assert int(r["answer"]) == value, r
        assert r["solution"].endswith(f"\\boxed{{{r['answer']}}}")
        assert r["facts"] and all(f["attribute"] == "count" for f in r["facts"])


def test_points_solutions_come_in_two_correct_lengths():
    """One by one ("... scores 3.") or grouped by shape ("2 circles: 2 * 3 = 6."): trace length varies among
    correct worked answers, so it can be read within them."""
    points = [r for r in records("visual_reasoning", 240) if r["family"] == "points"]
    one_by_one = [r for r in points if " scores " in r["solution"]]
    grouped = [r for r in points if " * " in r["solution"]]
    assert one_by_one and grouped and len(one_by_one) + len(grouped) == len(points)


def test_the_families_setting_is_checked_and_deterministic():
    with pytest.raises(SeethinkError, match="world: families must be one of v4, v5, got 'v6'"):
        WorldConfig(families="v6")
    assert records("visual_reasoning", 30, 9) == records("visual_reasoning", 30, 9)
    assert records("visual_reasoning", 30, 9) != records("visual_reasoning", 30, 10)


def test_identify_readout_splits_colour_and_shape_by_question_kind():
    """benchmarks/identify_readout.py on real identify records: answers right, colour only, shape only, unboxed."""
    mod = load_benchmark("identify_readout")
    recs = records("perception", 200)
    place = [r for r in recs if mod.kind_of(r["problem"]) == "place"][:4]
    relation = [r for r in recs if mod.kind_of(r["problem"]) == "relation"][:2]
    assert len(place) == 4 and len(relation) == 2

    def swap_shape(answer):
        colour, shape = answer.split()
        return f"{colour} {next(s for s in SHAPE_WORDS if s != shape)}"

    def swap_colour(answer):
        colour, shape = answer.split()
        return f"{'blue' if colour != 'blue' else 'red'} {shape}"

    given = [place[0]["answer"], swap_shape(place[1]["answer"]), swap_colour(place[2]["answer"]), None]
    rows = (
        [
            {
                "family": "identify",
                "problem": r["problem"],
                "answer": r["answer"],
                "completion": f"<think>x</think>\\boxed{{{g}}}" if g else "no answer",
                "accuracy": float(g == r["answer"]),
            }
            for r, g in zip(place, given)
        ]
        + [
            {
                "family": "identify",
                "problem": r["problem"],
                "answer": r["answer"],
                "accuracy": 1.0,
                "completion": f"<think>x</think>\\boxed{{{r['answer']}}}",
            }
            for r in relation
        ]
        + [{"family": "points", "problem": "p", "answer": "3", "completion": "\\boxed{3}", "accuracy": 1.0}]
    )
    got = mod.readout(rows)
    assert got["place"] == {"n": 4, "accuracy": 0.25, "colour": 0.5, "shape": 0.5}
    assert got["relation"] == {"n": 2, "accuracy": 1.0, "colour": 1.0, "shape": 1.0}
    assert mod.parts("two red circles") == ("red", "circle") and mod.parts("red or blue circle") == (None, "circle")
