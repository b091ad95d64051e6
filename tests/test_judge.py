"""The optional LLM judge: verdict parsing, an OpenAI-compatible stub server on loopback, the cache, local HF
judges, and the CLI path. No network beyond 127.0.0.1."""

import json

import pytest
from conftest import seethink

from seethink.errors import SeethinkError
from seethink.eval.attribution import attribute, summarise_attribution
from seethink.eval.judge import JudgeRequest, LocalJudge, OpenAIJudge, VerdictCache, cached, make_judge, parse_verdict
from seethink.models.endpoint import Policy
from seethink.records.io import load_records


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("PERCEPTION", "perception"),
        ("reasoning.", "reasoning"),
        ("**Perception** - the model counted 4 circles, there are 3.", "perception"),
        ("The error is in reasoning: 3 + 4 is not 8.", "reasoning"),
        ('{"cause": "perception"}', "perception"),
        ("Reasoning error; the perception was fine.", "reasoning"),  # starts with its verdict
        ("Not a reasoning error but a perception error.", None),  # names both, commits to neither up front
        ("I cannot tell.", None),
        ("", None),
        ("perceptions are hard", None),  # whole words only
    ],
)
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) == verdict


def scripted(text: str) -> str:
    """The stub judge's rule: an answer that says it 'saw' something is a perception error."""
    answer = text.split("The model's wrong answer:")[1]
    if "saw" in answer:
        return "PERCEPTION"
    if "slip" in answer:
        return "Reasoning: the arithmetic is off."
    return "unsure"


@pytest.fixture(scope="module")
def vr(world_dir):
    return load_records(world_dir / "visual_reasoning", "test")[:12]


def wrong_answers(records):
    kinds = ["<think>I saw 9 objects.</think>\\boxed{99}", "<think>a slip</think>\\boxed{98}", "\\boxed{97}"]
    return [kinds[i % 3] for i in range(len(records))]


def no_answerer(records):
    raise AssertionError("the judge method must not ask the evaluated model anything")


def test_endpoint_judge_attributes_by_its_replies_and_caches_them(stub, vr, tmp_path, monkeypatch):
    monkeypatch.setenv("STUB_KEY", "sk-test")
    server = stub(scripted)
    completions = wrong_answers(vr)
    cache_file = tmp_path / "cache.jsonl"
    judge = OpenAIJudge(server.url, "stub-judge", api_key_env="STUB_KEY")
    verdicts = attribute(
        vr,
        [False] * len(vr),
        no_answerer,
        "judge",
        completions=completions,
        judge=cached(judge, VerdictCache(cache_file)),
    )
    assert [v["cause"] for v in verdicts] == ["perception", "reasoning", "unattributed"] * 4
    assert all(v["method"] == "judge" for v in verdicts)
    assert verdicts[1]["evidence"]["judge_reply"].startswith("Reasoning")
    s = summarise_attribution(verdicts)["all"]
    assert (s["perception"], s["reasoning"], s["unattributed"], s["perception_share"]) == (4, 4, 4, 0.5)

    # what went over the wire: the model, temperature 0, the image as a PNG data URL, the key, gold answer
    # requests run concurrently: find record 0's by its caption (problems repeat across records, scenes don't)
    req = next(r for r in server.requests if vr[0]["caption"] in r["messages"][0]["content"][1]["text"])
    assert req["model"] == "stub-judge"
    assert req["temperature"] == 0
    image = req["messages"][0]["content"][0]
    assert image["type"] == "image_url"
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    text = req["messages"][0]["content"][1]["text"]
    assert vr[0]["problem"] in text
    assert f"Correct answer: {vr[0]['answer']}" in text

    # a rerun reads every reply from the cache; a torn last line (a killed run) is ignored
    n = len(server.requests)
    with open(cache_file, "a") as f:
        f.write('{"key": "abc", "rep')
    again = attribute(
        vr,
        [False] * len(vr),
        no_answerer,
        "judge",
        completions=completions,
        judge=cached(judge, VerdictCache(cache_file)),
    )
    assert len(server.requests) == n == len(vr)
    assert again == verdicts
    # a different judge (another model name) is not served from that cache
    other = OpenAIJudge(server.url, "another-judge", api_key_env="STUB_KEY")
    attribute(
        vr[:3],
        [False] * 3,
        no_answerer,
        "judge",
        completions=completions[:3],
        judge=cached(other, VerdictCache(cache_file)),
    )
    assert len(server.requests) == n + 3


def test_text_only_judge_gets_no_image(stub, vr, tmp_path):
    server = stub()
    judge = make_judge(server.url, "stub", sees_images=False)
    cached(judge, VerdictCache(tmp_path / "c.jsonl"))([JudgeRequest("q?", "3", "\\boxed{4}", None, vr[0]["images"][0])])
    assert [c["type"] for c in server.requests[0]["messages"][0]["content"]] == ["text"]


def test_endpoint_retries_busy_servers(stub):
    server = stub(fail_first=1, status=503)
    assert OpenAIJudge(server.url, "stub", policy=Policy(tries=3, backoff=0.01))(
        [JudgeRequest("q?", "3", "\\boxed{4}")]
    ) == ["PERCEPTION"]
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(fail_first=1, status=401), "HTTP 401"),
        (dict(raw=b"<html>not json</html>"), "reply is not JSON"),
        (dict(raw=b'{"choices": []}'), "not an OpenAI chat completion"),
    ],
)
def test_endpoint_failures_are_one_line_errors(stub, kw, msg):
    server = stub(**kw)
    with pytest.raises(SeethinkError, match=msg) as e:
        OpenAIJudge(server.url, "stub", policy=Policy(tries=1))([JudgeRequest("q?", "3", "\\boxed{4}")])
    assert server.url in str(e.value)
    assert "\n" not in str(e.value)


def test_unreachable_endpoint_is_a_one_line_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SeethinkError, match=f"127.0.0.1:{port}"):
        OpenAIJudge(f"http://127.0.0.1:{port}/v1", "stub", policy=Policy(tries=1))([JudgeRequest("q?", "3", "x")])


def test_make_judge_checks_its_arguments(tmp_path):
    with pytest.raises(SeethinkError, match="--judge-model"):
        make_judge("http://localhost:8000/v1")
    with pytest.raises(SeethinkError, match="does not exist"):
        make_judge(str(tmp_path / "nothing"))


def test_local_vlm_judge_sees_the_image(tiny_model_dir, vr, tmp_path):
    judge = LocalJudge(tiny_model_dir)
    assert judge.sees_images
    verdicts = attribute(
        vr[:4],
        [False] * 4,
        no_answerer,
        "judge",
        completions=wrong_answers(vr[:4]),
        judge=cached(judge, VerdictCache(tmp_path / "c.jsonl")),
    )
    # a random model replies with noise: whatever it says, each verdict is a parsed cause or unattributed
    assert [v["cause"] in ("perception", "reasoning", "unattributed") for v in verdicts] == [True] * 4
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 4


def test_local_vlm_judge_told_not_to_look(tiny_model_dir, vr, tmp_path):
    judge = make_judge(str(tiny_model_dir), sees_images=False)
    assert not judge.sees_images
    replies = judge([JudgeRequest("q?", "3", "\\boxed{4}", None, vr[0]["images"][0])])  # the image is left out
    assert len(replies) == 1


def test_local_text_only_judge(tiny_text_lm_dir, vr):
    judge = make_judge(str(tiny_text_lm_dir))
    assert not judge.sees_images
    assert judge.processor is None
    replies = judge([JudgeRequest("q?", "3", "\\boxed{4}", "a red circle", vr[0]["images"][0])] * 2)
    assert len(replies) == 2
    assert replies[0] == replies[1]  # greedy


def test_cli_eval_with_an_endpoint_judge(stub, world_dir, tmp_path):
    server = stub(lambda text: "REASONING")
    seethink(
        "eval",
        "--data",
        world_dir,
        "--limit",
        10,
        "--max-new-tokens",
        24,
        "--judge",
        server.url,
        "--judge-model",
        "stub",
        "--out",
        tmp_path / "ev",
    )
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    verdicts = [json.loads(line) for line in (tmp_path / "ev" / "attribution.jsonl").read_text().splitlines()]
    judged = [v for v in verdicts if v["method"] == "judge"]
    assert judged
    assert all(v["cause"] == "reasoning" for v in judged)
    assert len(server.requests) == len(judged)  # only image questions outside perception go to the judge
    assert {v["method"] for v in verdicts} <= {"judge", "no-image", "perception-question"}
    assert summary["judge"].startswith("openai:")
    assert summary["attribution"]["all"]["errors"] == len(verdicts)
    assert len((tmp_path / "ev" / "judge_cache.jsonl").read_text().splitlines()) == len(judged)


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--attribute", "judge"], "attribution judge needs a judge"),
        (["--attribute", "facts", "--judge", "http://localhost:1/v1"], "a judge is used by attribution judge"),
        (["--judge", "http://localhost:1/v1"], "needs --judge-model"),
    ],
)
def test_cli_judge_argument_errors(world_dir, args, msg):
    p = seethink("eval", "--data", world_dir, *args, check=False)
    assert p.returncode == 2
    assert msg in p.stderr
    assert "Traceback" not in p.stderr


def test_an_api_key_never_reaches_an_output(stub, world_dir, tmp_path, monkeypatch):
    """The key goes to the endpoint (in its Authorization header) and nowhere else: not the summary, the cache, the
    attribution file or the command's own output."""
    sentinel = "sk-SENTINEL-do-not-write-3141592653"
    monkeypatch.setenv("OPENAI_API_KEY", sentinel)
    server = stub(lambda text: "REASONING")
    p = seethink(
        "eval",
        "--data",
        world_dir,
        "--limit",
        6,
        "--max-new-tokens",
        24,
        "--judge",
        server.url,
        "--judge-model",
        "stub",
        "--out",
        tmp_path / "ev",
    )
    assert server.headers
    assert all(h.get("Authorization") == f"Bearer {sentinel}" for h in server.headers)
    written = [f for f in (tmp_path / "ev").rglob("*") if f.is_file()]
    assert {f.name for f in written} >= {"summary.json", "samples.jsonl", "judge_cache.jsonl", "attribution.jsonl"}
    assert not [f for f in written if sentinel.encode() in f.read_bytes()]
    assert sentinel not in p.stdout + p.stderr


def test_a_training_run_judged_by_an_endpoint_reports_its_requests(stub, world_dir, tmp_path):
    """`eval.attribution: judge` inside `seethink train`: each held-out evaluation prints the judge's request
    counts, like `seethink eval` does (a flaky judge's retries would otherwise go unseen in a long run)."""
    from test_train import RECIPES, smoke_args

    server = stub(lambda text: "PERCEPTION", fail_first=1)  # one 503, retried
    p = seethink(
        "train",
        *smoke_args(RECIPES / "stage3-only.yaml", world_dir, tmp_path, steps=1),
        "--set",
        "eval.attribution=judge",
        "--set",
        f"eval.judge={server.url}",
        "--set",
        "eval.judge_model=stub",
    )
    lines = [line.strip() for line in p.stdout.splitlines() if line.strip().startswith(f"judge {server.url}")]
    assert len(lines) == 2  # the start's evaluation and the stage's
    asked, retried = (sum(int(line.split(": ")[1].split(", ")[k].split()[0]) for line in lines) for k in (0, 1))
    assert asked > 0 and retried == 1
    assert asked + retried == len(server.requests)  # every HTTP request the judge sent is in the counts
    assert "1 retried" in lines[0]
