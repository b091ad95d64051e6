"""`seethink data`: importing the paper's schemas, MCQs from captions, filters. Fixture files are written here in
the paper's schemas; generator and filter models are a scripted stub endpoint on loopback and tiny local models."""

import io
import json
from collections import Counter

import pytest
from conftest import seethink
from PIL import Image

from seethink.datatools.filters import FilterPlan, apply_filters, dedup_verdicts, pass_rate_verdicts, reply_choice
from seethink.datatools.paper import import_rows
from seethink.datatools.synth import Unusable, parse_mcq, synth_perception
from seethink.errors import SeethinkError
from seethink.models.chat import OpenAIChat, ReplyCache, cached
from seethink.records.io import load_image, load_records


def png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, format="PNG")
    return buf.getvalue()


def one_error_line(stderr: str) -> str:
    """The error line; nothing else but library progress bars (model loading) may precede it."""
    lines = [ln for ln in stderr.strip().splitlines() if "it/s]" not in ln]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("seethink: error:"), stderr
    return lines[0]


# ---------------------------------------------------------------- import


def test_import_released_parquet_rows(tmp_path):
    import datasets

    src = tmp_path / "VLM-CapCurriculum-Perception-Data" / "data"
    src.mkdir(parents=True)
    rows = {
        "problem": [
            "<image>What colour is the mug?\nOptions:\nA: red\nB: blue\nC: green\nD: white\n"
            "Respond using only the letter corresponding to the correct answer.",
            "<image>How many birds are on the wire?",
        ],
        "answer": ["b", "3"],
        "images": [[{"bytes": png("red"), "path": None}], [{"bytes": png("blue"), "path": None}]],
        "pass_rate": [0.25, 0.5],
        "predictions": [["B", "A"], ["3", "4"]],
    }
    feats = datasets.Features(
        {
            "problem": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "images": datasets.List(datasets.Image()),
            "pass_rate": datasets.Value("float64"),
            "predictions": datasets.List(datasets.Value("string")),
        }
    )
    datasets.Dataset.from_dict(rows, features=feats).to_parquet(str(src / "train-00000-of-00001.parquet"))
    target, counts = import_rows(str(src.parent), tmp_path / "out")
    assert counts == {"perception": 2}  # from the dataset's name
    recs = load_records(tmp_path / "out", "train")
    mcq, open_q = recs
    assert mcq["problem"] == "What colour is the mug?\nA. red\nB. blue\nC. green\nD. white"
    assert mcq["options"] == ["red", "blue", "green", "white"]
    assert mcq["answer"] == "B"
    assert open_q["options"] is None
    assert open_q["problem"] == "How many birds are on the wire?"
    assert mcq["pass_rate"] == 0.25
    assert mcq["predictions"] == ["B", "A"]  # extra columns pass through
    assert load_image(mcq["images"][0]).getpixel((0, 0)) == (255, 0, 0)
    stored = json.loads(target.read_text().splitlines()[0])["images"][0]
    assert stored.startswith("images/")  # relative: the folder can move
    import_rows(str(src.parent), tmp_path / "out", as_split="validation", limit=1)  # another split, same folder
    assert len(load_records(tmp_path / "out", "train")) == 2
    assert len(load_records(tmp_path / "out", "validation")) == 1
    assert len(list((tmp_path / "out" / "images").iterdir())) == 2  # the shared image is stored once


def test_import_the_papers_stage1_files_and_a_saved_dataset(tmp_path):
    import datasets

    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "train_00009.jpg").write_bytes(png("green"))
    row = {
        "index": "0",
        "answer": "C",
        "example_id": "train_00009",
        "split": "train",
        "image_path": ["imgs/train_00009.jpg"],
        "option_A": "left",
        "option_B": "right",
        "option_C": "above",
        "option_D": "below",
        "prompt": "<image>Where is the lamp relative to the sofa?\nOptions:\nA: left\nB: right\nC: above\nD: below\n"
        "Respond using only the letter corresponding to the correct answer.\n",
    }
    (tmp_path / "train_stage1_perception.jsonl").write_text(
        json.dumps(row) + "\n" + json.dumps({**row, "index": "1"}) + "\n"
    )
    (tmp_path / "val_stage1_perception.jsonl").write_text(
        json.dumps({**row, "example_id": "val_1", "blob": b"x".hex()}) + "\n"
    )
    import_rows(str(tmp_path), tmp_path / "p", capability="perception")  # the folder: train_* files only
    import_rows(str(tmp_path), tmp_path / "p", split="validation", capability="perception")  # its val_* file
    assert [r["id"] for r in load_records(tmp_path / "p", "validation")] == ["val_1"]
    recs = load_records(tmp_path / "p", "train")
    assert [r["id"] for r in recs] == ["train_00009", "train_00009-2"]  # two MCQs about one image stay apart
    assert recs[0]["answer"] == "C"
    assert recs[0]["options"][2] == "above"
    assert recs[0]["problem"].startswith("Where is the lamp relative to the sofa?\nA. left")
    assert "Respond using only" not in recs[0]["problem"]
    assert "<image>" not in recs[0]["problem"]

    text = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {
                    "problem": ["What is 3 + 4 * 2?", "Solve x + 1 = 3."],
                    "answer": ["\\boxed{11}", "2"],
                    "source": ["orz", "orz"],
                }
            )
        }
    )
    text.save_to_disk(str(tmp_path / "saved"))
    import_rows(str(tmp_path / "saved"), tmp_path / "t")
    recs = load_records(tmp_path / "t", "train")
    assert [r["capability"] for r in recs] == ["text_reasoning"] * 2  # no images
    assert recs[0]["answer"] == "11"
    assert recs[0]["source"] == "orz"
    assert len({r["id"] for r in recs}) == 2


@pytest.mark.parametrize(
    "row, msg",
    [
        ({"problem": "<image>What is shown?", "answer": "a cat", "images": ["x.png"]}, "image file .* does not exist"),
        ({"problem": "What is 2+2?"}, "missing required field 'answer'"),
        ({"answer": "4"}, "no problem text"),
        (
            {"problem": "q", "answer": "1", "images": [{"bytes": b"not an image", "path": None}]},
            "embedded image is corrupt",
        ),
    ],
)
def test_import_errors_name_the_row(tmp_path, row, msg):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([row, {"problem": "ok?", "answer": "1"}]), tmp_path / "rows.parquet")
    with pytest.raises(SeethinkError, match=msg) as e:
        import_rows(str(tmp_path / "rows.parquet"), tmp_path / "out")
    assert "rows.parquet: row 0" in str(e.value)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))


def test_rows_that_are_not_objects_are_refused_by_every_reader(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"problem": "q", "answer": "1"}\n[1, 2]\n')
    with pytest.raises(SeethinkError, match="rows.jsonl:2: expected an object, got list"):
        import_rows(str(tmp_path / "rows.jsonl"), tmp_path / "out")
    gen = OpenAIChat("http://127.0.0.1:9/v1", "never-asked")
    with pytest.raises(SeethinkError, match="rows.jsonl:2: expected an object, got list"):
        synth_perception(str(tmp_path / "rows.jsonl"), tmp_path / "mcq", gen)


def test_import_by_hub_name_offline_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        SeethinkError, match="UCSC-VLAA/VLM-CapCurriculum-Perception-Data: cannot load from the Hugging Face hub"
    ):
        import_rows("UCSC-VLAA/VLM-CapCurriculum-Perception-Data", tmp_path / "out")
    with pytest.raises(SeethinkError, match="no such file or folder"):
        import_rows("not/a/path/at/all", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_import_image_rows_need_a_capability(tmp_path):
    (tmp_path / "x.png").write_bytes(png("red"))
    (tmp_path / "rows.jsonl").write_text(json.dumps({"problem": "q?", "answer": "1", "images": ["x.png"]}) + "\n")
    with pytest.raises(SeethinkError, match="--capability"):
        import_rows(str(tmp_path / "rows.jsonl"), tmp_path / "out")
    p = seethink(
        "data",
        "import",
        tmp_path / "rows.jsonl",
        "--out",
        tmp_path / "out",
        "--capability",
        "visual_reasoning",
        "--as-split",
        "validation",
    )
    assert "1 records written" in p.stdout
    assert (tmp_path / "out" / "validation.jsonl").is_file()


# ---------------------------------------------------------------- synth-perception


@pytest.mark.parametrize(
    "reply, expected",
    [
        (
            '{"question": "What colour is the car?", "options": ["red", "blue", "green", "black"], "answer": "blue"}',
            ("What colour is the car?", "blue", ["red", "green", "black"]),
        ),
        (
            '```json\n{"question": "Q?", "options": {"A": "1", "B": "2", "C": "3", "D": "4"}, "answer": "C"}\n```',
            ("Q?", "3", ["1", "2", "4"]),
        ),
        (
            'Sure! {"question": "Q?", "options": ["w", "x", "y", "z"], "answer": 0} Hope this helps.',
            ("Q?", "w", ["x", "y", "z"]),
        ),
    ],
)
def test_parse_mcq_accepts_the_usual_forms(reply, expected):
    assert parse_mcq(reply) == expected


@pytest.mark.parametrize(
    "reply, reason",
    [
        ("I cannot do that.", "no JSON object"),
        ('{"question": "Q?", "options": ["a", "b", "c", "d"], "answer": "e"', "no JSON object"),  # cut off
        ('{"question": "Q?", "options": ["a", "b", "c"], "answer": "a"}', "not four options"),
        ('{"question": "Q?", "options": ["a", "A", "c", "d"], "answer": "a"}', "repeated options"),
        ('{"question": "", "options": ["a", "b", "c", "d"], "answer": "a"}', "no question"),
        ('{"question": "Q?", "options": ["a", "b", "c", "d"], "answer": "e"}', "answer names no option"),
        ('{"question": "Q?", "options": ["a", "b", "c", "d"], "answer": true}', "answer names no option"),
        ('{"question": "Q?", "options": ["a", "b", "c", "d"], answer: "a"}', "malformed JSON"),
    ],
)
def test_parse_mcq_rejects_with_a_reason(reply, reason):
    with pytest.raises(Unusable, match=reason):
        parse_mcq(reply)


def caption_rows(tmp_path, n):
    (tmp_path / "img").mkdir(exist_ok=True)
    colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black", "gray", "pink"]
    rows = []
    for i in range(n):
        (tmp_path / "img" / f"{i}.png").write_bytes(png(colours[i % len(colours)]))
        rows.append(
            {
                "example_id": f"docci-{i}",
                "image_file": f"img/{i}.png",
                "description": f"A {colours[i % len(colours)]} square fills the frame. Item {i}.",
            }
        )
    (tmp_path / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "captions.jsonl"


def generator_reply(text: str) -> str:
    """A scripted generator: a usable MCQ about the caption's colour, except for items 3 and 7."""
    caption = text.split("Description:\n")[1]
    colour, item = caption.split()[1], int(caption.split("Item ")[1].rstrip("."))
    if item == 3:
        return "As an AI, I cannot see images."
    if item == 7:
        return '{"question": "Which colour?", "options": ["red", "red", "blue", "green"], "answer": "red"}'
    wrong = [c for c in ("cyan", "brown", "navy", "lime") if c != colour][:3]
    return json.dumps({"question": "What colour is the square?", "options": [colour, *wrong], "answer": colour})


def test_synth_perception_with_an_endpoint(stub, tmp_path):
    server = stub(generator_reply)
    src = caption_rows(tmp_path, 10)
    gen = OpenAIChat(server.url, "gen", sees_images=False, max_tokens=384)
    summary = synth_perception(str(src), tmp_path / "mcq", gen, seed=1, limit=6)
    assert len(server.requests) == 6
    summary = synth_perception(str(src), tmp_path / "mcq", gen, seed=1)  # the first six come from the cache
    assert len(server.requests) == 10
    assert all("image_url" not in json.dumps(r) for r in server.requests)
    assert summary["captions"] == 10
    assert summary["mcqs"] == 8
    assert summary["skipped"] == {"no JSON object": 1, "repeated options": 1}
    recs = load_records(tmp_path / "mcq", "train")
    assert Counter(r["answer"] for r in recs) == {"A": 2, "B": 2, "C": 2, "D": 2}  # the generator always said A
    for r in recs:
        assert r["options"]["ABCD".index(r["answer"])] == r["caption"].split()[1]  # the gold option is the colour
        assert r["capability"] == "perception"
        assert r["caption"]
        assert load_image(r["images"][0])
    skipped = [json.loads(line) for line in (tmp_path / "mcq" / "skipped.jsonl").read_text().splitlines()]
    assert {s["id"] for s in skipped} == {"docci-3", "docci-7"}


def test_synth_perception_survives_a_generator_that_writes_nonsense(tiny_text_lm_dir, tmp_path):
    src = caption_rows(tmp_path, 3)
    p = seethink(
        "data",
        "synth-perception",
        src,
        "--generator",
        tiny_text_lm_dir,
        "--out",
        tmp_path / "mcq",
        "--max-new-tokens",
        12,
        check=False,
    )
    assert p.returncode == 2
    assert one_error_line(p.stderr).startswith("seethink: error: generator local:")
    assert "no usable MCQ in 3 replies (no JSON object: 3)" in p.stderr
    assert len((tmp_path / "mcq" / "skipped.jsonl").read_text().splitlines()) == 3
    assert not (tmp_path / "mcq" / "train.jsonl").exists()


def test_synth_cli_argument_errors(tmp_path):
    src = caption_rows(tmp_path, 2)
    p = seethink(
        "data", "synth-perception", src, "--generator", "http://127.0.0.1:9/v1", "--out", tmp_path / "o", check=False
    )
    assert p.returncode == 2
    assert "--generator-model" in p.stderr
    (tmp_path / "bad.jsonl").write_text(json.dumps({"image": "img/0.png"}) + "\n")
    p = seethink(
        "data",
        "synth-perception",
        tmp_path / "bad.jsonl",
        "--generator",
        "http://127.0.0.1:9/v1",
        "--generator-model",
        "m",
        "--out",
        tmp_path / "o",
        check=False,
    )
    assert p.returncode == 2
    assert "bad.jsonl:1: no caption" in p.stderr


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "reply, choice",
    [
        ("<think>it is blue</think>\\boxed{B}", 1),
        ("\\boxed{blue}", 1),
        ("B", 1),
        ("(C)", 2),
        ("D.", 3),
        ("a", None),
        ("a cat sits on the mat", None),
        ("\\boxed{A} or \\boxed{B}", 1),
        ("\\boxed{A, B}", None),
        ("", None),
    ],
)
def test_reply_choice(reply, choice):
    assert reply_choice(reply, ["red", "blue", "green", "white"]) == choice


def rec(i, problem, image="x.png", options=("red", "blue", "green", "white"), answer="A", **kw):
    from seethink.records.mcq import format_mcq

    return {
        "id": f"r{i}",
        "problem": format_mcq(problem, list(options)),
        "options": list(options),
        "answer": answer,
        "images": [str(image)] if image else [],
        "capability": "perception",
        **kw,
    }


def test_dedup_compares_questions_about_the_same_image(tmp_path):
    (tmp_path / "a.png").write_bytes(png("red"))
    (tmp_path / "copy.png").write_bytes(png("red"))  # same picture under another name
    (tmp_path / "b.png").write_bytes(png("blue"))
    q = "How many red circles are in the image?"
    records = [
        rec(0, q, tmp_path / "a.png"),
        rec(1, q.upper().replace("?", " ?"), tmp_path / "copy.png"),  # the same after normalisation
        rec(2, q, tmp_path / "b.png"),  # another image: not a duplicate
        rec(3, "How many red circles are there in the image?", tmp_path / "a.png"),  # near-duplicate
        rec(4, q, tmp_path / "a.png", options=("1", "2", "3", "4")),  # other options
        rec(5, "How many blue circles are in the image?", tmp_path / "a.png"),
    ]  # another question (0.74)
    verdicts = dedup_verdicts(records)
    assert verdicts == [None, "duplicate | of r0", None, "near-duplicate | of r0", None, None]
    assert dedup_verdicts(records, 0.99)[3] is None


def test_pass_rate_bounds():
    records = [rec(i, "q", None, pass_rate=p) for i, p in enumerate([0.0, 0.5, 1.0])]
    assert pass_rate_verdicts(records, 0.1, 0.9) == ["pass rate below 0.1", None, "pass rate above 0.9"]
    with pytest.raises(SeethinkError, match="r0 has no pass_rate"):
        pass_rate_verdicts([rec(0, "q", None)], 0, 1)


def filter_reply(text: str, has_image: bool) -> str:
    """A scripted filter model. It answers EASY questions from the question alone, SEEN ones when it gets the
    image, and any question from a caption unless the caption says 'blurry'; otherwise it says 'A'."""
    options = [ln[3:] for ln in text.splitlines() if len(ln) > 2 and ln[1] == "." and ln[0] in "ABCD"]
    from_caption = text.startswith("Description of the image:")
    knows = "EASY" in text or ("SEEN" in text and has_image) or (from_caption and "blurry" not in text)
    return f"\\boxed{{{'ABCD'[options.index('blue')]}}}" if knows else "A"


def test_blind_and_keep_rule_with_an_endpoint(stub, tmp_path):
    server = stub(filter_reply)
    (tmp_path / "x.png").write_bytes(png("red"))
    opts = ("red", "blue", "green", "white")
    records = [
        rec(0, "EASY: what colour?", tmp_path / "x.png", answer="B", caption="a blue cup"),
        rec(1, "SEEN: what colour?", tmp_path / "x.png", answer="B", caption="a blue cup"),
        rec(2, "Hard: what colour?", tmp_path / "x.png", answer="B", caption="a blurry cup"),
        rec(
            3,
            "Hard: what colour?",
            tmp_path / "x.png",
            options=("blue", *opts[:1], *opts[2:]),
            answer="A",
            caption="a blue cup",
        ),  # 'A' is right here, wrong after rotation
        rec(4, "Good: what colour?", tmp_path / "x.png", answer="B", caption="a blue cup"),
    ]
    model = ("stub", cached(OpenAIChat(server.url, "f", max_tokens=64), ReplyCache(tmp_path / "c.jsonl")))
    kept, dropped, results = apply_filters(records, FilterPlan(blind=[model], keep=[model]))
    assert [r["id"] for r in kept] == ["r4"]
    assert [(r["id"], name, why) for r, name, why in dropped] == [
        ("r0", "blind", "answered without the image by stub"),
        ("r1", "keep-rule", "answered from the image by stub"),
        ("r2", "keep-rule", "not answered from the caption by stub"),
        ("r3", "keep-rule", "answered from the image by stub"),
    ]  # its lucky blind 'A' did not survive rotation
    assert [(r.name, r.kept, r.dropped) for r in results] == [("blind", 4, 1), ("keep-rule", 1, 3)]
    image_requests = [r for r in server.requests if "image_url" in json.dumps(r)]
    assert len(image_requests) == 4  # only the keep rule's image test sends the image
    n = len(server.requests)
    apply_filters(records, FilterPlan(blind=[model], keep=[model]))
    assert len(server.requests) == n  # all from the cache


def test_filter_cli_with_a_tiny_local_model(world_dir, tiny_model_dir, tmp_path):
    p = seethink(
        "data",
        "filter",
        world_dir / "perception",
        "--split",
        "validation",
        "--out",
        tmp_path / "f",
        "--dedup",
        "--blind",
        tiny_model_dir,
        "--keep-model",
        tiny_model_dir,
        "--max-new-tokens",
        8,
    )
    report = json.loads((tmp_path / "f" / "validation.filter_report.json").read_text())
    assert [f["filter"] for f in report["filters"]] == ["dedup", "blind", "keep-rule"]
    kept = (tmp_path / "f" / "validation.jsonl").read_text().splitlines()
    dropped = (tmp_path / "f" / "validation.dropped.jsonl").read_text().splitlines()
    assert len(kept) + len(dropped) == report["records"] == 28
    assert report["kept"] == len(kept)
    assert "keep-rule: kept" in p.stdout
    cache_lines = len((tmp_path / "f" / "filter_cache.jsonl").read_text().splitlines())
    seethink(
        "data",
        "filter",
        world_dir / "perception",
        "--split",
        "validation",
        "--out",
        tmp_path / "f",
        "--dedup",
        "--blind",
        tiny_model_dir,
        "--keep-model",
        tiny_model_dir,
        "--max-new-tokens",
        8,
    )
    assert len((tmp_path / "f" / "filter_cache.jsonl").read_text().splitlines()) == cache_lines  # nothing asked twice


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--pass-rate", "0.9:0.1"], "pass rate range: needs 0 <= LOW <= HIGH <= 1"),
        (["--pass-rate", "half"], "--pass-rate expects LOW:HIGH"),
        (["--dedup", "1.5"], "dedup threshold: must be in"),
        (["--keep-model", "http://127.0.0.1:9/v1"], "URL::NAME"),
        (["--keep-model", "x", "--require", "image-right"], "require: must name"),
        ([], "no filter chosen"),
        (["--pass-rate", "0:1"], "has no pass_rate"),
    ],
)
def test_filter_cli_errors(world_dir, tmp_path, args, msg):
    p = seethink(
        "data", "filter", world_dir / "perception", "--split", "validation", "--out", tmp_path / "f", *args, check=False
    )
    assert p.returncode == 2
    assert msg in one_error_line(p.stderr)
    assert not (tmp_path / "f").exists()  # nothing written, not even the folder


# ---------------------------------------------------------------- the whole path


def paper_rows(records):
    """World records written back in the paper's released schema (problem with <image> and `A: …` options)."""
    from seethink.records.mcq import split_options

    rows = []
    for r in records:
        problem = r["problem"]
        if r["options"]:
            question, options = split_options(problem)
            problem = question + "\nOptions:\n" + "\n".join(f"{'ABCD'[i]}: {o}" for i, o in enumerate(options))
        rows.append(
            {
                "problem": "<image>" * len(r["images"]) + problem,
                "answer": r["answer"],
                "images": [{"bytes": open(p, "rb").read(), "path": None} for p in r["images"]],
                "source": "world-in-paper-schema",
            }
        )
    return rows


@pytest.mark.slow
def test_imported_paper_data_trains_and_evaluates(world_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for cap in ("perception", "text_reasoning", "visual_reasoning"):
        for split, n in (("train", 40), ("validation", 8)):
            src = tmp_path / "hub" / f"VLM-CapCurriculum-{cap.title().replace('_', '')}-Data" / "data"
            src.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                pa.Table.from_pylist(paper_rows(load_records(world_dir / cap, split)[:n])),
                src / f"{split}-00000-of-00001.parquet",
            )
            seethink("data", "import", src.parent, "--split", split, "--out", tmp_path / "paper" / cap)
    imported = load_records(tmp_path / "paper" / "perception", "train")
    world = load_records(world_dir / "perception", "train")[:40]
    assert [(r["problem"], r["answer"], r["options"]) for r in imported] == [
        (r["problem"], r["answer"], r["options"]) for r in world
    ]  # the round trip loses nothing we train on
    args = [
        "train",
        "--set",
        f"data={tmp_path / 'paper'}",
        "--set",
        f"output_dir={tmp_path / 'runs'}",
        "--set",
        "eval.limit=8",
    ]
    for k in range(3):
        args += [
            "--set",
            f"stages.{k}.steps=2",
            "--set",
            f"stages.{k}.batch_size=8",
            "--set",
            f"stages.{k}.num_generations=4",
            "--set",
            f"stages.{k}.rollout_batch_size=8",
        ]
    p = seethink(*args)
    assert "after visual_reasoning: perception" in p.stdout
    summary = json.loads(
        (tmp_path / "runs" / "staged" / "stages" / "3-visual_reasoning" / "eval" / "summary.json").read_text()
    )
    assert set(summary["capability"]) == {"perception", "text_reasoning", "visual_reasoning"}
