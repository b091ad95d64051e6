"""Question families of the synthetic world, one function each, grouped by capability.

A family turns a scene (or, for text reasoning, just a random generator) into candidate questions. Every
candidate carries its gold answer computed from the scene graph, the perception `facts` that answer
depends on (machine-readable, so errors can later be attributed exactly), and the reasoning lines that
become the `<think>` part of the reference solution. Options, letter balance and answer balance are
handled by `seethink.miniature.world.generate`, not here.

Facts are those of `seethink.records.facts`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

from seethink.miniature.world.language import region_phrase
from seethink.miniature.world.scene import COLOURS, REGIONS, SHAPES, SIZES, Obj, Scene, count, unique_description
from seethink.records.facts import fact, noun_phrase

RELATIONS = ("left of", "right of", "above", "below")


@dataclass
class Candidate:
    question: str
    answer: str
    facts: list[dict]
    reasoning: list[str]
    distractor_pool: list[str] = field(default_factory=list)  # MCQ only: plausible wrong options


def count_filters():
    yield {}
    for c in COLOURS:
        yield {"colour": c}
    for s in SHAPES:
        yield {"shape": s}
    for c, s in itertools.product(COLOURS, SHAPES):
        yield {"colour": c, "shape": s}


def count_sentence(f: dict, n: int) -> str:
    return f"There {'is' if n == 1 else 'are'} {n} {noun_phrase(f, plural=n != 1)}."


def unique_objects(scene: Scene) -> list[tuple[Obj, dict]]:
    return [(o, d) for o in scene.objects if (d := unique_description(scene, o)) is not None]


# ---------------------------------------------------------------- perception (4-option MCQs)


def count_mcq(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    for f in count_filters():
        n = count(scene, **f)
        pool = [str(v) for v in range(max(0, n - 3), n + 4) if v != n and v <= max_count + 1]
        out.append(
            Candidate(
                f"How many {noun_phrase(f, plural=True)} are there?",
                str(n),
                [fact("count", f, n)],
                [count_sentence(f, n)],
                pool,
            )
        )
    return out


def colour_mcq(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    for o, d in unique_objects(scene):
        if "colour" in d:  # asking the colour of "the red circle" would give the answer away
            continue
        out.append(
            Candidate(
                f"What colour is the {noun_phrase(d)}?",
                o.colour,
                [fact("colour", d, o.colour)],
                [f"The {noun_phrase(d)} is {o.colour}."],
                [c for c in COLOURS if c != o.colour],
            )
        )
    return out


def shape_mcq(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    for o in scene.objects:
        d = {"colour": o.colour}
        if count(scene, **d) != 1:
            continue
        out.append(
            Candidate(
                f"What shape is the {noun_phrase(d)}?",
                o.shape,
                [fact("shape", d, o.shape)],
                [f"The {noun_phrase(d)} is a {o.shape}."],
                [s for s in SHAPES if s != o.shape],
            )
        )
    return out


def size_mcq(scene: Scene, max_count: int) -> list[Candidate]:
    """Which listed object is the biggest? Needs one strictly biggest object, unique by colour and shape."""
    rank = {s: i for i, s in enumerate(SIZES)}
    top = max(rank[o.size] for o in scene.objects)
    biggest = [o for o in scene.objects if rank[o.size] == top]
    if len(biggest) != 1 or count(scene, colour=biggest[0].colour, shape=biggest[0].shape) != 1:
        return []
    o = biggest[0]
    name = f"{o.colour} {o.shape}"
    others = sorted({f"{p.colour} {p.shape}" for p in scene.objects if p is not o})
    if not others:
        return []
    absent = [
        f"{c} {s}"
        for c, s in itertools.product(COLOURS, SHAPES)
        if count(scene, colour=c, shape=s) == 0 and (c == o.colour or s == o.shape)
    ]
    f = {"colour": o.colour, "shape": o.shape}
    return [
        Candidate(
            "Which object is the biggest?",
            name,
            [fact("biggest", f, o.size)],
            [f"The biggest object is the {o.size} {name}."],
            others + absent,
        )
    ]


def position_mcq(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    for o, d in unique_objects(scene):
        r, c = o.row, o.col
        near = [
            REGIONS[rr][cc]
            for rr in range(3)
            for cc in range(3)
            if (rr, cc) != (r, c) and abs(rr - r) + abs(cc - c) <= 2
        ]
        out.append(
            Candidate(
                f"Where is the {noun_phrase(d)}?",
                o.region,
                [fact("region", d, o.region)],
                [f"The {noun_phrase(d)} is {region_phrase(o.region)}."],
                near,
            )
        )
    return out


def relation_mcq(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    objs = unique_objects(scene)
    for (a, da), (b, db) in itertools.permutations(objs, 2):
        if a.row == b.row:
            rel = "left of" if a.col < b.col else "right of"
        elif a.col == b.col:
            rel = "above" if a.row < b.row else "below"
        else:
            continue
        # see, then think: the reasoning states where each object is before it compares them
        out.append(
            Candidate(
                f"Where is the {noun_phrase(da)} relative to the {noun_phrase(db)}?",
                rel,
                [fact("relation", da, rel, other=db)],
                [
                    f"The {noun_phrase(da)} is {region_phrase(a.region)}.",
                    f"The {noun_phrase(db)} is {region_phrase(b.region)}.",
                    f"So the {noun_phrase(da)} is {rel} the {noun_phrase(db)}.",
                ],
                [r for r in RELATIONS if r != rel],
            )
        )
    return out


def existence_mcq(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    for o in scene.objects:
        name = f"{o.colour} {o.shape}"
        # plausible distractors share a colour or a shape with something in the scene but are absent
        absent = [
            f"{c} {s}"
            for c, s in itertools.product(COLOURS, SHAPES)
            if count(scene, colour=c, shape=s) == 0 and any(p.colour == c or p.shape == s for p in scene.objects)
        ]
        if len(absent) < 3:
            continue
        f = {"colour": o.colour, "shape": o.shape}
        out.append(
            Candidate(
                "Which of these objects is in the image?",
                name,
                [fact("exists", f, "yes")],
                [f"I see a {name}."],
                absent,
            )
        )
    return out


# ---------------------------------------------------------------- visual reasoning (numeric answers)


def _nonempty_filters(scene: Scene):
    return [f for f in count_filters() if f and count(scene, **f) > 0]


def subtract(scene: Scene, max_count: int) -> list[Candidate]:
    total = len(scene.objects)
    out = []
    for f in _nonempty_filters(scene):
        n = count(scene, **f)
        out.append(
            Candidate(
                f"Subtract all {noun_phrase(f, plural=True)}. How many objects are left?",
                str(total - n),
                [fact("count", {}, total), fact("count", f, n)],
                [count_sentence({}, total), count_sentence(f, n), f"{total} - {n} = {total - n}."],
            )
        )
    return out


def add(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    for f in count_filters():
        if not f.get("colour") or not f.get("shape"):
            continue
        col = {"colour": f["colour"]}
        n = count(scene, **col)
        for k in (1, 2, 3):
            out.append(
                Candidate(
                    f"Add {k} {noun_phrase(f, plural=k != 1)}. How many {noun_phrase(col, plural=True)} are there now?",
                    str(n + k),
                    [fact("count", col, n)],
                    [count_sentence(col, n), f"{n} + {k} = {n + k}."],
                )
            )
    return out


def compare(scene: Scene, max_count: int) -> list[Candidate]:
    out = []
    fs = [f for f in count_filters() if len(f) == 1]
    for fa, fb in itertools.permutations(fs, 2):
        na, nb = count(scene, **fa), count(scene, **fb)
        # "red objects" vs "circles" overlap, so comparisons stay within one attribute
        if na <= nb or set(fa) != set(fb):
            continue
        out.append(
            Candidate(
                f"How many more {noun_phrase(fa, plural=True)} than {noun_phrase(fb, plural=True)} are there?",
                str(na - nb),
                [fact("count", fa, na), fact("count", fb, nb)],
                [count_sentence(fa, na), count_sentence(fb, nb), f"{na} - {nb} = {na - nb}."],
            )
        )
    return out


def compare_pair(first: Scene, second: Scene, max_count: int) -> list[Candidate]:
    """Two images: how many more objects of a kind the first shows than the second (counts of all objects, one
    colour or one shape). Each count fact names its image (0 or 1), so attribution probes the right one."""
    out = []
    for f in count_filters():
        if len(f) > 1:
            continue
        na, nb = count(first, **f), count(second, **f)
        if na <= nb:
            continue
        sentences = [count_sentence(f, na), count_sentence(f, nb)]
        out.append(
            Candidate(
                f"How many more {noun_phrase(f, plural=True)} are there in the first image than in the second image?",
                str(na - nb),
                [{**fact("count", f, na), "image": 0}, {**fact("count", f, nb), "image": 1}],
                [
                    f"In the first image, {sentences[0][0].lower()}{sentences[0][1:]}",
                    f"In the second image, {sentences[1][0].lower()}{sentences[1][1:]}",
                    f"{na} - {nb} = {na - nb}.",
                ],
            )
        )
    return out


def multihop(scene: Scene, max_count: int) -> list[Candidate]:
    """Subtract a colour and a shape: total - colour - shape + (colour and shape)."""
    total = len(scene.objects)
    out = []
    for c, s in itertools.product(COLOURS, SHAPES):
        fc, fs, fcs = {"colour": c}, {"shape": s}, {"colour": c, "shape": s}
        nc, ns, ncs = count(scene, **fc), count(scene, **fs), count(scene, **fcs)
        if nc == 0 or ns == 0:
            continue
        left = total - nc - ns + ncs
        lines = [count_sentence({}, total), count_sentence(fc, nc), count_sentence(fs, ns)]
        if ncs:
            lines += [count_sentence(fcs, ncs), f"{total} - {nc} - {ns} + {ncs} = {left}."]
        else:
            lines += [f"{total} - {nc} - {ns} = {left}."]
        out.append(
            Candidate(
                f"Subtract all {noun_phrase(fc, plural=True)}. Subtract all {noun_phrase(fs, plural=True)}. "
                "How many objects are left?",
                str(left),
                [fact("count", {}, total), fact("count", fc, nc), fact("count", fs, ns), fact("count", fcs, ncs)],
                lines,
            )
        )
    return out


@dataclass(frozen=True)
class Family:
    """A question family on one scene: the capability its records train and test, its candidates function
    (scene, max objects -> candidate questions), how hard one of its records is (`difficulty`: a fixed level,
    or None for the number of objects in the scene) and whether its records are 4-option MCQs (`mcq`: the gold
    answer is a letter; a candidate needs 3 distractors) or free-form questions."""

    name: str
    capability: str
    candidates: Callable[[Scene, int], list[Candidate]]
    level: int | None = None
    mcq: bool = False

    def difficulty(self, scene: Scene) -> int:
        return len(scene.objects) if self.level is None else self.level


FAMILIES = (
    Family("count", "perception", count_mcq, mcq=True),
    Family("colour", "perception", colour_mcq, mcq=True),
    Family("shape", "perception", shape_mcq, mcq=True),
    Family("size", "perception", size_mcq, mcq=True),
    Family("position", "perception", position_mcq, mcq=True),
    Family("relation", "perception", relation_mcq, mcq=True),
    Family("existence", "perception", existence_mcq, mcq=True),
    Family("subtract", "visual_reasoning", subtract, level=1),
    Family("add", "visual_reasoning", add, level=1),
    Family("compare", "visual_reasoning", compare, level=2),
    Family("multihop", "visual_reasoning", multihop, level=3),
)
"""The scene-question families, in the order a capability's records take them in turn (a new one goes last in
its capability: the records of the others then change). Text reasoning (`seethink.miniature.world.word_problems`),
captions and the two-image `compare_pair` have generators of their own in `seethink.miniature.world.generate`;
base v5's families are `seethink.miniature.world.families_v5.FAMILIES`."""


def families_of(capability: str, table: tuple[Family, ...] = FAMILIES) -> tuple[Family, ...]:
    return tuple(f for f in table if f.capability == capability)


SCENE_CAPABILITIES = tuple(dict.fromkeys(f.capability for f in FAMILIES))
"""The capabilities whose records are questions on one scene from `FAMILIES`."""
