"""The synthetic world: determinism, gold answers recomputed independently, balance, captions."""

import hashlib
import itertools
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import load_benchmark

from seethink.errors import SeethinkError
from seethink.miniature.world.build import build_world
from seethink.records.io import load_records

COLOURS = {"red", "green", "blue", "yellow", "purple", "cyan"}
SHAPES = {"circle", "square", "triangle", "diamond"}
SIZE_RANK = {"small": 0, "medium": 1, "large": 2}
REGION_NAMES = [
    ["top left", "top", "top right"],
    ["left", "centre", "right"],
    ["bottom left", "bottom", "bottom right"],
]


def tree_digest(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_world(tmp_path, world_dir):
    build_world(tmp_path / "again", seed=3, sizes={"train": 140, "validation": 28, "test": 56})
    assert tree_digest(tmp_path / "again") == tree_digest(world_dir)


def test_different_seed_gives_different_world(tmp_path, world_dir):
    build_world(
        tmp_path / "other", seed=4, sizes={"train": 140, "validation": 28, "test": 56}, datasets=("perception",)
    )
    a = (world_dir / "perception" / "train.jsonl").read_text()
    b = (tmp_path / "other" / "perception" / "train.jsonl").read_text()
    assert a != b


def test_splits_do_not_share_scenes(world_dir):
    for name in ("perception", "visual_reasoning"):
        seen = {}
        for split in ("train", "validation", "test"):
            for r in load_records(world_dir / name, split):
                seen.setdefault(json.dumps(r["scene"], sort_keys=True), set()).add(split)
        # splits use independent seed streams; only tiny scenes (one or two objects) can recur by chance
        shared = [k for k, s in seen.items() if len(s) > 1]
        assert all(len(json.loads(k)["objects"]) <= 2 for k in shared), shared


# ------------------------------------------------------------------ independent gold answers


def parse_filter(phrase: str) -> dict:
    """'large red circles' / 'red objects' / 'objects' -> attribute filter, written independently of the world code."""
    f = {}
    for w in phrase.split():
        w = w[:-1] if w.endswith("s") and w[:-1] in SHAPES | {"object"} else w
        if w in COLOURS:
            f["colour"] = w
        elif w in SHAPES:
            f["shape"] = w
        elif w in SIZE_RANK:
            f["size"] = w
    return f


def select(objs, f):
    return [o for o in objs if all(o[k] == v for k, v in f.items())]


def region_of(o, image_size):
    cell = image_size / 3
    return REGION_NAMES[int(o["y"] // cell)][int(o["x"] // cell)]


def gold(rec) -> str:
    """Recompute the answer text from the scene graph by parsing the question."""
    q = rec["problem"].split("\n")[0]
    scene = rec["scene"]
    objs = scene["objects"]
    if m := re.fullmatch(r"How many more (.+) than (.+) are there\?", q):
        return str(len(select(objs, parse_filter(m[1]))) - len(select(objs, parse_filter(m[2]))))
    if m := re.fullmatch(r"How many (.+) are there\?", q):
        return str(len(select(objs, parse_filter(m[1]))))
    if m := re.fullmatch(r"What colour is the (.+)\?", q):
        (o,) = select(objs, parse_filter(m[1]))
        return o["colour"]
    if m := re.fullmatch(r"What shape is the (.+)\?", q):
        (o,) = select(objs, parse_filter(m[1]))
        return o["shape"]
    if q == "Which object is the biggest?":
        top = max(SIZE_RANK[o["size"]] for o in objs)
        (o,) = [o for o in objs if SIZE_RANK[o["size"]] == top]  # exactly one biggest object in the scene
        return f"{o['colour']} {o['shape']}"
    if m := re.fullmatch(r"Where is the (.+) relative to the (.+)\?", q):
        (a,), (b,) = select(objs, parse_filter(m[1])), select(objs, parse_filter(m[2]))
        ra, rb = region_of(a, scene["image_size"]), region_of(b, scene["image_size"])
        (ia,) = [(i, row.index(ra)) for i, row in enumerate(REGION_NAMES) if ra in row]
        (ib,) = [(i, row.index(rb)) for i, row in enumerate(REGION_NAMES) if rb in row]
        if ia[0] == ib[0]:
            return "left of" if ia[1] < ib[1] else "right of"
        assert ia[1] == ib[1]
        return "above" if ia[0] < ib[0] else "below"
    if m := re.fullmatch(r"Where is the (.+)\?", q):
        (o,) = select(objs, parse_filter(m[1]))
        return region_of(o, scene["image_size"])
    if q == "Which of these objects is in the image?":
        present = [opt for opt in rec["options"] if select(objs, parse_filter(opt))]
        assert len(present) == 1
        return present[0]
    if m := re.fullmatch(r"Subtract all (.+)\. Subtract all (.+)\. How many objects are left\?", q):
        f1, f2 = parse_filter(m[1]), parse_filter(m[2])
        return str(sum(1 for o in objs if o not in select(objs, f1) and o not in select(objs, f2)))
    if m := re.fullmatch(r"Subtract all (.+)\. How many objects are left\?", q):
        return str(len(objs) - len(select(objs, parse_filter(m[1]))))
    if m := re.fullmatch(r"Add (\d+) (.+)\. How many (.+) are there now\?", q):
        return str(len(select(objs, parse_filter(m[3]))) + int(m[1]))
    raise AssertionError(f"unparsed question: {q}")


def word_problem_gold(text: str) -> str:
    value = int(re.search(r"has (\d+)", text)[1])
    for verb, k in re.findall(r"(gets|finds|buys|gives away|loses|uses) (\d+)", text):
        value += int(k) if verb in ("gets", "finds", "buys") else -int(k)
        assert value >= 0
    return str(value)


@pytest.mark.parametrize("name", ["perception", "visual_reasoning", "text_reasoning"])
def test_every_gold_answer_recomputed_independently(world_dir, name):
    for split in ("train", "validation", "test"):
        for r in load_records(world_dir / name, split):
            if name == "text_reasoning":
                assert r["answer"] == word_problem_gold(r["problem"])
                assert r["images"] == []
            elif r["options"]:
                assert r["options"]["ABCD".index(r["answer"])] == gold(r), r["id"]
                assert len(set(r["options"])) == 4
            else:
                assert r["answer"] == gold(r), r["id"]


def test_objects_do_not_overlap_and_regions_match_positions(world_dir):
    for r in load_records(world_dir / "perception", "train"):
        objs, size = r["scene"]["objects"], r["scene"]["image_size"]
        for o in objs:
            assert region_of(o, size) == REGION_NAMES[o["row"]][o["col"]]
        assert len({(o["row"], o["col"]) for o in objs}) == len(objs)


def test_correct_letter_is_balanced_per_family(world_dir):
    recs = load_records(world_dir / "perception", "train")
    for family in {r["family"] for r in recs}:
        counts = Counter(r["answer"] for r in recs if r["family"] == family)
        assert set(counts) == set("ABCD")
        assert max(counts.values()) - min(counts.values()) <= 1, (family, counts)


def test_count_answers_are_spread(world_dir):
    recs = [r for r in load_records(world_dir / "perception", "train") if r["family"] == "count"]
    values = Counter(r["options"]["ABCD".index(r["answer"])] for r in recs)
    assert values.most_common(1)[0][1] <= 0.35 * len(recs), values


def test_caption_names_every_object(world_dir):
    for r in load_records(world_dir / "captions", "train"):
        text = r["caption"]
        n = len(r["scene"]["objects"])
        assert text.startswith(f"There {'is' if n == 1 else 'are'} {n} object")
        for o in r["scene"]["objects"]:
            region = REGION_NAMES[o["row"]][o["col"]]
            where = "in the centre" if region == "centre" else f"at the {region}"
            assert f"{o['size']} {o['colour']} {o['shape']} {where}" in text


def test_facts_agree_with_scene(world_dir):
    for r in load_records(world_dir / "visual_reasoning", "train"):
        objs = r["scene"]["objects"]
        assert r["facts"], r["id"]
        for f in r["facts"]:
            assert f["attribute"] == "count"
            want = {k: v for k, v in f["subject"].items() if v is not None}
            assert int(f["value"]) == len(select(objs, want))


def test_solutions_follow_the_answer_format(world_dir):
    from seethink.rewards import score

    for name in ("perception", "visual_reasoning", "text_reasoning"):
        for r in load_records(world_dir / name, "train"):
            s = score(r["solution"], r["answer"], r["options"])
            assert s.accuracy == 1.0, r["id"]
            assert s.format == 1.0, r["id"]


def test_text_step_weights_set_how_often_each_chain_length_appears():
    from seethink.miniature.world.generate import WorldConfig, generate

    default = [g.record for g in generate("text_reasoning", "train", 60, 3)]
    assert Counter(r["difficulty"] for r in default) == {k: 10 for k in range(1, 7)}  # in turn, as before
    cfg = WorldConfig(text_step_weights=[1, 1, 1, 1, 0.2, 0])
    seen = Counter(g.record["difficulty"] for g in generate("text_reasoning", "train", 2000, 3, cfg))
    assert seen[6] == 0 and 40 < seen[5] < 130 and all(400 < seen[k] < 560 for k in range(1, 5))
    for bad in ([1, 1], [1, 1, 1, 1, 1, -1], [0] * 6, "uniform"):
        with pytest.raises(SeethinkError, match="text_step_weights must be 6 weights"):
            WorldConfig(text_step_weights=bad)


def test_two_image_records_answer_from_both_scenes_and_carry_both_images(pairs_world_dir, world_dir):
    from PIL import Image

    from seethink.eval.attribution import count_probes
    from seethink.miniature.world.scene import Scene, render

    assert not (world_dir / "image_pairs").exists()  # the recipes' built-in world leaves the optional family out
    recs = load_records(pairs_world_dir / "image_pairs", "train")
    for r in recs:
        assert r["capability"] == "visual_reasoning" and r["family"] == "compare_pair"
        m = re.fullmatch(r"How many more (.+) are there in the first image than in the second image\?", r["problem"])
        f = parse_filter(m[1])
        first, second = (len(select(s["objects"], f)) for s in r["scenes"])
        assert r["answer"] == str(first - second) and first > second, r["id"]
        assert len(r["images"]) == 2
        for path, scene in zip(r["images"], r["scenes"]):  # each file is its own scene, in order
            with Image.open(path) as im:
                assert im.convert("RGB").tobytes() == render(Scene.from_dict(scene)).convert("RGB").tobytes()
        # attribution probes each count on the image the count is about
        probes = count_probes(r, probes_per_fact=1)
        assert [p["images"] for p in probes] == [[r["images"][0]], [r["images"][1]]]
    assert len(Counter(r["answer"] for r in recs)) >= 3


def test_a_recipe_that_names_the_two_image_family_adds_it_to_the_built_in_world(tmp_path):
    """The built-in world is built without `image_pairs`; a recipe whose stage trains on it adds it once, with the
    world's seed and sizes, and leaves the datasets already there untouched (same bytes)."""
    from seethink.recipe import DataSource, Recipe, Stage
    from seethink.resolve import recipe_paths

    def recipe(path):
        return Recipe(name="r", seed=2, output_dir=str(tmp_path), stages=[Stage(name="s", data=[DataSource(path)])])

    _, root = recipe_paths(recipe("perception"))
    assert not (root / "image_pairs").exists()
    before = tree_digest(root / "perception")
    _, again = recipe_paths(recipe("image_pairs"))
    assert again == root
    assert tree_digest(root / "perception") == before
    meta = json.loads((root / "world.json").read_text())
    assert meta["datasets"][-1] == "image_pairs" and meta["seed"] == 2
    assert len(load_records(root / "image_pairs", "validation")) == meta["sizes"]["validation"]
    alone = tmp_path / "alone"  # the same records as a world built with the family from the start
    build_world(alone, seed=2, sizes=meta["sizes"], datasets=("image_pairs",))
    assert tree_digest(alone / "image_pairs") == tree_digest(root / "image_pairs")
    assert not [p for p in root.iterdir() if p.name.startswith(".add-")]


def test_the_family_registry_is_what_the_world_generates():
    """Every scene-question family of `FAMILIES` yields records of its capability, its difficulty and its answer
    form (an `mcq` family: 4 options and a letter; the others: a free-form answer), in turn."""
    from seethink.miniature.world.families import SCENE_CAPABILITIES, families_of
    from seethink.miniature.world.generate import FAMILY_SETS, WorldConfig, generate

    assert SCENE_CAPABILITIES == ("perception", "visual_reasoning")
    for name, capability in itertools.product(FAMILY_SETS, SCENE_CAPABILITIES):
        table = families_of(capability, FAMILY_SETS[name])
        assert table, (name, capability)
        records = [g.record for g in generate(capability, "train", 2 * len(table), 0, WorldConfig(families=name))]
        assert [r["family"] for r in records] == [f.name for f in table] * 2
        for r, f in zip(records, table * 2):
            assert r["capability"] == f.capability
            assert r["difficulty"] == (len(r["scene"]["objects"]) if f.level is None else f.level)
            if f.mcq:
                assert len(r["options"]) == 4 and r["answer"] in "ABCD", r
            else:
                assert r["options"] is None and r["answer"] not in "ABCD", r
    for table in FAMILY_SETS.values():
        assert len({f.name for f in table}) == len(table)


def test_guess_rates_of_a_balanced_mcq_and_of_a_skewed_prior():
    """benchmarks/guess_rate.py: a 4-option MCQ with balanced letters is guessed within 8 samples 1 - 0.75^8 of the
    time, and always by the top-4 guesser; a skewed prior is guessed as often as its answers recur."""
    mod = load_benchmark("guess_rate")
    letters = list("ABCD") * 25
    r = mod.guess_rates(letters, letters, 8)
    assert abs(r["sampled"] - (1 - 0.75**8)) < 1e-9 and r["top_k"] == 1.0
    r = mod.guess_rates(["1"] * 9 + ["7"], ["1", "7", "42"], 1)
    assert abs(r["sampled"] - (0.9 + 0.1 + 0) / 3) < 1e-9 and abs(r["top_k"] - 1 / 3) < 1e-9
