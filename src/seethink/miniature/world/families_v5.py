"""Base v5's question families (issue 35), chosen with the world setting `families: v5`.

On the base v4 world a guesser that never looks gets 77-92% of visual-reasoning answers and 90% of the 4-option
perception MCQs within 8 samples (`benchmarks/guess_rate.py`), so a reward there is mostly luck. These families
are built so that a guess cannot earn the reward and visual reasoning needs both skills the other stages train:
- `identify` (perception, free form): "What is the object at the top left?" / "What is the object left of the
  square?" -> "red circle": the object's colour *and* shape (24 answers), read by place or by relation;
- `points` (visual reasoning): each shape is worth stated points; the model reads the colour and shape of the
  objects asked about (perception), then adds (a chain of sums). Its reference solution either enumerates the
  objects one by one or groups them by shape, both right, so a correct trace's length varies;
- `story` (visual reasoning): a word problem whose start is a count read off the image, then 1-3 add/subtract
  steps in the text stage's own format (`seethink.miniature.world.word_problems`).
Every candidate carries the perception facts its answer depends on, so attribution stays exact.
"""

from __future__ import annotations

import itertools
import random

from seethink.miniature.world.families import Candidate, Family, count_filters, count_sentence, unique_objects
from seethink.miniature.world.language import region_phrase
from seethink.miniature.world.scene import COLOURS, SHAPES, Obj, Scene, count
from seethink.miniature.world.word_problems import chain, person
from seethink.records.facts import fact, noun_phrase

RELATIONS = {
    "left of": lambda p, o: p.row == o.row and p.col < o.col,
    "right of": lambda p, o: p.row == o.row and p.col > o.col,
    "above": lambda p, o: p.col == o.col and p.row < o.row,
    "below": lambda p, o: p.col == o.col and p.row > o.row,
}
"""The relations an identify question asks by ("the object left of the square"), each a test on two objects."""


def _name(o: Obj) -> dict:
    return {"colour": o.colour, "shape": o.shape}


def _named_once(scene: Scene, o: Obj) -> bool:
    """Is `o` the only object of its colour and shape (so "red circle" names it)?"""
    return count(scene, **_name(o)) == 1


def identify(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    for o in scene.objects:
        if not _named_once(scene, o):
            continue
        answer = noun_phrase(_name(o))
        out.append(
            Candidate(
                f"What is the object {region_phrase(o.region)}?",
                answer,
                [fact("region", _name(o), o.region)],
                [f"The object {region_phrase(o.region)} is a {o.size} {answer}."],
            )
        )
    for (o, d), (rel, holds) in itertools.product(unique_objects(scene), RELATIONS.items()):
        hits = [p for p in scene.objects if p is not o and holds(p, o)]
        if len(hits) != 1 or not _named_once(scene, hits[0]):
            continue
        hit = hits[0]
        answer = noun_phrase(_name(hit))
        out.append(
            Candidate(
                f"What is the object {rel} the {noun_phrase(d)}?",
                answer,
                [fact("relation", _name(hit), rel, other=d)],
                [
                    f"The {noun_phrase(d)} is {region_phrase(o.region)}.",
                    f"The object {rel} it is the {answer} {region_phrase(hit.region)}.",
                ],
            )
        )
    return out


POINT_TABLES = ((3, 5, 2, 4), (2, 4, 6, 3), (5, 1, 3, 7))
"""Points per shape (in `SHAPES` order) that a points question states; each table gives its own candidates."""


def _points_rule(worth: dict) -> str:
    first, *rest = worth.items()
    tail = ", ".join(f"{s}s {v}" for s, v in rest[:-1]) + f" and {rest[-1][0]}s {rest[-1][1]}"
    return f"{first[0].capitalize()}s are worth {first[1]} points, {tail}."


def _sum_line(terms: list[int]) -> list[str]:
    return [f"{' + '.join(map(str, terms))} = {sum(terms)}."] if len(terms) > 1 else []


def points(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    groups = [{}] + [{"colour": c} for c in COLOURS if count(scene, colour=c) >= 2]
    for f, table in itertools.product(groups, POINT_TABLES):
        worth = dict(zip(SHAPES, table))
        objs = [o for o in scene.objects if all(getattr(o, k) == v for k, v in f.items())]
        total = sum(worth[o.shape] for o in objs)
        question = f"{_points_rule(worth)} How many points do the {noun_phrase(f, plural=True)} score?"
        facts = [fact("count", {**f, "shape": s}, count(scene, **f, shape=s)) for s in SHAPES]
        one_by_one = [
            f"The {o.size} {o.colour} {o.shape} {region_phrase(o.region)} scores {worth[o.shape]}." for o in objs
        ]
        by_shape, terms = [], []
        for s in SHAPES:
            n = count(scene, **f, shape=s)
            if n:
                by_shape.append(f"{count_sentence({**f, 'shape': s}, n)[:-1]}: {n} * {worth[s]} = {n * worth[s]}.")
                terms.append(n * worth[s])
        out.append(Candidate(question, str(total), facts, one_by_one + _sum_line([worth[o.shape] for o in objs])))
        out.append(Candidate(question, str(total), facts, by_shape + _sum_line(terms)))
    return out


def story(scene: Scene, max_count: int) -> list[Candidate]:
    """Word problems that start from a count of the image; the steps come from a generator seeded by the scene,
    so a scene's candidates are a function of the scene alone."""
    rng = random.Random(f"story:{scene.to_dict()}")
    out = []
    for f in count_filters():
        n = count(scene, **f)
        if not f or n == 0:
            continue
        name, item, pronoun = person(rng)
        sentences, lines, value = chain(rng, n, rng.randint(1, 3), pronoun, max_operand=9)
        start = f"{name} has one {item[:-1]} for every {noun_phrase(f)} in the image."
        out.append(
            Candidate(
                " ".join([start, *sentences, f"How many {item} does {name} have now?"]),
                str(value),
                [fact("count", f, n)],
                [f"{count_sentence(f, n)[:-1]}, so {name} has {n} {item if n != 1 else item[:-1]}.", *lines],
            )
        )
    return out


FAMILIES = (
    Family("identify", "perception", identify),
    Family("points", "visual_reasoning", points, level=2),
    Family("story", "visual_reasoning", story, level=3),
)
"""Base v5's scene-question families (`seethink.miniature.world.families.FAMILIES` is base v4's)."""
