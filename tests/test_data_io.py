"""Loading records: schema checks and one-line errors naming the file, line and field."""

import json

import pytest

from seethink.errors import SeethinkError
from seethink.records.io import load_image, load_records

GOOD = {"id": "a", "problem": "How many?", "answer": "2", "capability": "visual_reasoning", "images": []}


def write(tmp_path, lines, name="train.jsonl"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_loads_and_fills_defaults(tmp_path):
    (rec,) = load_records(write(tmp_path, [json.dumps(GOOD)]))
    assert rec["options"] is None
    assert rec["facts"] == []
    assert rec["family"] == ""


def test_numeric_answers_become_strings(tmp_path):
    (rec,) = load_records(write(tmp_path, [json.dumps({**GOOD, "answer": 3})]))
    assert rec["answer"] == "3"


def test_extra_columns_pass_through(tmp_path):
    (rec,) = load_records(write(tmp_path, [json.dumps({**GOOD, "predictions": ["x"]})]))
    assert rec["predictions"] == ["x"]


@pytest.mark.parametrize(
    "line,msg",
    [
        ("{not json", r"train.jsonl:2: malformed JSON"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "answer"} | {"id": "b"}),
            r"train.jsonl:2: missing required field 'answer'",
        ),
        (json.dumps({**GOOD, "id": "b", "capability": "vision"}), r"train.jsonl:2: field 'capability'"),
        (json.dumps({**GOOD, "id": "a"}), r"train.jsonl:2: duplicate id"),
        (
            json.dumps({**GOOD, "id": "b", "images": ["nope.png"]}),
            r"train.jsonl:2: image file .*nope.png does not exist",
        ),
        (json.dumps({**GOOD, "id": "b", "options": "A"}), r"train.jsonl:2: field 'options'"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, line, msg):
    with pytest.raises(SeethinkError, match=msg):
        load_records(write(tmp_path, [json.dumps(GOOD), line]))


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(SeethinkError, match="no records"):
        load_records(write(tmp_path, [""]))


def test_folder_needs_a_split(tmp_path):
    write(tmp_path, [json.dumps(GOOD)])
    assert len(load_records(tmp_path, "train")) == 1
    with pytest.raises(SeethinkError, match="no test.jsonl"):
        load_records(tmp_path, "test")


def test_parquet_round_trip(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([GOOD, {**GOOD, "id": "b"}]), tmp_path / "test.parquet")
    assert [r["id"] for r in load_records(tmp_path, "test")] == ["a", "b"]


def test_corrupt_and_truncated_images(tmp_path, world_dir):
    src = next((world_dir / "perception" / "images" / "train").glob("*.png")).read_bytes()
    (tmp_path / "trunc.png").write_bytes(src[: len(src) // 2])
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for name in ("trunc.png", "junk.png"):
        with pytest.raises(SeethinkError, match="corrupt or truncated"):
            load_image(str(tmp_path / name))
