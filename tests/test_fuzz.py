"""A fuzzer for the command line's contract (issue 33): hypothesis generates records, recipes, `--set`
overrides, study files and run folders, mutates them (bytes, types, sizes, references), runs the real command
in this process, and asserts: exit 0, or exit 2 with exactly one `error:` line and no traceback; nothing
written outside the command's output; no partial output after a refusal; within a time bound.

CI runs a fixed budget from a fixed seed (`derandomize`), a few minutes in all. A longer hunt:
`SEETHINK_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py -p no:randomly` (add `SEETHINK_FUZZ_RANDOM=1` for fresh
examples on every run rather than the fixed ones)."""

import contextlib
import io
import json
import os
import time
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from seethink.cli import main  # noqa: E402
from seethink.recipe import RECIPES_DIR  # noqa: E402

EXAMPLES = int(os.environ.get("SEETHINK_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("SEETHINK_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=list(HealthCheck),
)
TIME_BOUND = 30.0  # seconds per command: every input here is small, so anything slower is unbounded work

# --- values a user (or a broken tool) can put anywhere -------------------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "base",
            "world",
            "..",
            "../..",
            "/",
            "/proc/nope",
            "A",
            "E",
            "train",
            "grpo",
            "sft",
            "perception",
            "\x00",
            "é",
            "9" * 5000,
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _paths(node, prefix=()):
    """Every key path of a nested mapping/list (the places a mutation can hit)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _set(node, path, value, delete=False):
    for p in path[:-1]:
        node = node[p]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


@st.composite
def mutated(draw, base: dict, protect=()):
    """`base` with a few fields replaced by arbitrary values, deleted, or joined by unknown keys."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p and p[0] not in protect]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "add":
            target = path[:-1]
            node = doc
            for p in target:
                node = node[p]
            if isinstance(node, dict):
                node[draw(st.text(min_size=1, max_size=10))] = draw(values)
        else:
            _set(doc, path, draw(values), delete=action == "delete")
    return doc


@st.composite
def damaged_bytes(draw, data: bytes):
    """`data` with a few bytes flipped, inserted or cut (non-UTF-8, torn lines, broken syntax)."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "truncate"]))
        if kind == "flip":
            data[i] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=6))
        else:
            del data[i:]
    return bytes(data)


# --- the contract ---------------------------------------------------------------------------------------------
def _snapshot(root: Path) -> dict:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def check_contract(argv: list, root: Path, outputs: tuple[Path, ...] = ()) -> int:
    """Run `seethink argv` here; `root` is every file the command may see, `outputs` the only places it may write."""
    before = _snapshot(root)
    out_before = {o: o.exists() for o in outputs}
    err, out = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:  # argparse: usage line + one `error:` line, exit 2
            rc = e.code
    elapsed = time.monotonic() - t0
    stderr = err.getvalue()
    assert elapsed < TIME_BOUND, f"{argv}: {elapsed:.0f} s"
    assert rc in (0, 2), (rc, argv, stderr[-1500:])
    assert "Traceback" not in stderr, stderr[-3000:]
    if rc == 2:
        errors = [line for line in stderr.splitlines() if "error:" in line]
        assert len(errors) == 1, stderr[-1500:]
    hypothesis.event(f"{argv[0]}: exit {rc}")  # --hypothesis-show-statistics: how many got past every check
    after = _snapshot(root)
    inside = lambda rel: any((root / rel).resolve().is_relative_to(o.resolve()) for o in outputs)  # noqa: E731
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and not inside(k))
    assert not changed, f"{argv} wrote outside its output: {changed}"
    if rc == 2:
        for o, existed in out_before.items():  # a refusal leaves no output it did not find
            assert existed or not o.exists() or not any(o.rglob("*.jsonl")), f"{argv}: partial output in {o}"
    return rc


# --- records --------------------------------------------------------------------------------------------------
RECORD = {
    "id": "r0",
    "problem": "What is 2 + 3?",
    "answer": "5",
    "capability": "text_reasoning",
    "family": "add",
    "options": None,
    "pass_rate": 0.5,
    "difficulty": 1,
    "facts": [{"attribute": "n", "value": 2}],
}
MCQ = {
    "id": "m0",
    "problem": "Which colour?",
    "answer": "B",
    "capability": "text_reasoning",
    "options": ["red", "blue", "green", "grey"],
}


@st.composite
def record_files(draw):
    row = st.one_of(mutated(RECORD), mutated(MCQ), st.just(RECORD), values)
    rows = [draw(row) for _ in range(draw(st.integers(1, 4)))]
    text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in rows).encode()
    return draw(st.one_of(st.just(text), damaged_bytes(text)))


@FUZZ
@given(data=record_files(), split=st.sampled_from(["train", "test"]))
def test_fuzz_records_through_import_filter_and_show(tmp_path_factory, data, split):
    root = tmp_path_factory.mktemp("fz")
    (root / "in").mkdir()
    (root / "in" / f"{split}.jsonl").write_bytes(data)
    check_contract(
        ["data", "import", root / "in" / f"{split}.jsonl", "--out", root / "imp", "--split", split],
        root,
        (root / "imp",),
    )
    check_contract(
        ["data", "filter", root / "in", "--split", split, "--out", root / "flt", "--pass-rate", "0:0.9", "--dedup"],
        root,
        (root / "flt",),
    )


# --- recipes and --set ----------------------------------------------------------------------------------------
STAGED = yaml.safe_load((RECIPES_DIR / "staged.yaml").read_text())


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    from seethink.miniature.world.build import build_world

    return build_world(tmp_path_factory.mktemp("fzworld"), seed=5, sizes={"train": 64, "validation": 8, "test": 8})


@FUZZ
@given(doc=mutated(STAGED), damage=st.booleans(), data=st.data())
def test_fuzz_recipes_through_dry_run(tmp_path_factory, small_world, doc, damage, data):
    root = tmp_path_factory.mktemp("fz")
    text = yaml.safe_dump(doc, allow_unicode=True).encode()
    (root / "r.yaml").write_bytes(data.draw(damaged_bytes(text)) if damage else text)
    check_contract(
        ["train", root / "r.yaml", "--dry-run", "--set", f"data={small_world}", "--set", f"output_dir={root / 'runs'}"],
        root,
        (root / "runs",),
    )


set_keys = st.one_of(
    st.sampled_from(
        [
            "seed",
            "name",
            "model",
            "eval.limit",
            "eval.split",
            "eval.datasets",
            "stages.0.steps",
            "stages.0.lr",
            "stages.0.temperature",
            "stages.0.num_generations",
            "stages.0.batch_size",
            "stages.0.max_completion_length",
            "stages.0.trl.generation_kwargs",
            "stages.5.steps",
            "stages.0.data.0.path",
            "stages.0.data.0.weight",
            "rollouts.engine",
            "inputs.max_pixels",
            "merged_from",
            "based_on",
            "stages.x",
            "",
            ".",
            "stages..steps",
            "hardware.gpus",
        ]
    ),
    st.text(max_size=20),
)
set_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "-5",
            ".inf",
            ".nan",
            "[1, 2]",
            "{a: 1}",
            "&a [*a]",
            "[" * 50,
            "1e999",
            "9" * 5000,
            "staged.yaml",
            "null",
            "0",
            "1",
            "2",
            "16",
            "0.5",
            "true",
            "merged.yaml",
        ]
    ),
)


@FUZZ
@given(sets=st.lists(st.tuples(set_keys, set_values), min_size=1, max_size=3))
def test_fuzz_set_overrides_through_dry_run(tmp_path_factory, small_world, sets):
    root = tmp_path_factory.mktemp("fz")
    argv = [
        "train",
        RECIPES_DIR / "staged.yaml",
        "--dry-run",
        "--set",
        f"data={small_world}",
        "--set",
        f"output_dir={root / 'runs'}",
    ]
    for k, v in sets:
        argv += ["--set", f"{k}={v}"]
    check_contract(argv, root, (root / "runs",))


# --- study files ----------------------------------------------------------------------------------------------
STUDY_FILE = Path(__file__).parents[1] / "experiments" / "paper" / "study.yaml"


@FUZZ
@given(doc=mutated(yaml.safe_load(STUDY_FILE.read_text()), protect=("configurations",)))
def test_fuzz_study_files_through_report_only(tmp_path_factory, small_world, doc):
    root = tmp_path_factory.mktemp("fz")
    for name in yaml.safe_load(STUDY_FILE.read_text()).get("configurations", {}).values():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((STUDY_FILE.parent / name).read_bytes())
    (root / "study.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    (root / "out" / "results").mkdir(parents=True)
    check_contract(
        ["experiment", "run", root / "study.yaml", "--report-only", "--out", root / "out", "--world", small_world],
        root,
        (root / "out",),
    )


# --- run folders ----------------------------------------------------------------------------------------------
SUMMARY = {
    "model": "m",
    "data": "d",
    "split": "validation",
    "seconds": 1.0,
    "samples_per_second": 5.0,
    "capability": {
        c: {"n": 8, "accuracy": 0.5, "ci95": [0.2, 0.8], "format": 1.0, "mean_tokens": 20.0, "mean_think_tokens": 9.0}
        for c in ("perception", "text_reasoning", "visual_reasoning")
    },
    "family": {},
    "prior": {},
    "attribution": {
        "visual_reasoning": {
            "errors": 4,
            "perception": 3,
            "reasoning": 1,
            "unattributed": 0,
            "perception_share": 0.75,
            "perception_share_ci95": [0.3, 1.0],
        }
    },
}
RUN = {
    "recipe.yaml": {"name": "r", "stages": [{"name": "s", "algorithm": "grpo"}], "kept": {"s": {"step": 2}}},
    "eval/start/summary.json": SUMMARY,
    "stages/1-s/eval/summary.json": SUMMARY,
    "stages/1-s/timing.json": {"seconds": 3.5},
}
METRICS = [{"step": 1, "reward": 0.4, "val_mean": 0.5}, {"step": 2, "reward": 0.6, "val_mean": 0.55}]


@FUZZ
@given(
    doc=mutated(RUN),
    metrics=st.one_of(st.just(METRICS), st.lists(st.one_of(mutated(METRICS[0]), values), max_size=3)),
    tear=st.booleans(),
)
def test_fuzz_run_folders_through_report(tmp_path_factory, doc, metrics, tear):
    root = tmp_path_factory.mktemp("fz")
    run = root / "run"
    for rel, content in doc.items():
        f = run / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(yaml.safe_dump(content) if rel.endswith(".yaml") else json.dumps(content, allow_nan=True))
    f = run / "stages" / "1-s" / "metrics.jsonl"
    f.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(m, allow_nan=True) + "\n" for m in metrics)
    f.write_text(text[: len(text) // 2] if tear else text)
    check_contract(["report", run, "--out", root / "rep"], root, (root / "rep",))
