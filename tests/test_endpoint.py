"""Flaky tool-model endpoints: a loopback server injects each fault; the client retries within bounds, honours
Retry-After, never hangs, gives up with one line, counts what happened, and a cached run resumes."""

import json
import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import Loopback

from seethink.errors import SeethinkError
from seethink.models.chat import OpenAIChat, Prompt, ReplyCache, cached
from seethink.models.endpoint import Policy

GOOD = json.dumps({"choices": [{"message": {"role": "assistant", "content": "ok"}}]}).encode()


class Flaky(Loopback):
    """Answers request i with `faults[i]` (then GOOD once the list is used up): 'reset' closes the connection
    unanswered, 'drip' sends a reply one byte per 0.5 s, 'invalid' answers 200 with a non-JSON body, an int
    answers that HTTP status, (status, retry_after) adds a Retry-After header."""

    def __init__(self, faults):
        self.faults, self.times = list(faults), []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                flaky.times.append(time.monotonic())
                fault = flaky.faults.pop(0) if flaky.faults else None
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                status, after = fault if isinstance(fault, tuple) else (fault if isinstance(fault, int) else 200, None)
                self.send_response(status)
                if after is not None:
                    self.send_header("Retry-After", str(after))
                body = b"<html>busy</html>" if fault == "invalid" else GOOD if status == 200 else b""
                if isinstance(fault, dict):  # a 200 whose message content is this JSON value
                    body = json.dumps(
                        {"choices": [{"message": {"role": "assistant", "content": fault["content"]}}]}
                    ).encode()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "drip":
                    for b in body:
                        self.wfile.write(bytes([b]))
                        self.wfile.flush()
                        time.sleep(0.5)
                else:
                    self.wfile.write(body)

        self.serve(Handler)


@pytest.fixture
def flaky():
    servers = []

    def make(faults):
        servers.append(Flaky(faults))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


FAST = dict(backoff=0.01, max_wait=5.0)


@pytest.mark.parametrize("fault", ["reset", 429, 500, 502, 503, 504, "invalid"])
def test_each_transient_fault_is_retried(flaky, fault):
    server = flaky([fault, fault])
    chat = OpenAIChat(server.url, "m", policy=Policy(tries=3, **FAST))
    assert chat([Prompt("hi")]) == ["ok"]
    assert (chat.stats.requests, chat.stats.retries, chat.stats.failures) == (1, 2, 0)
    assert len(server.times) == 3


def test_a_dripping_server_trips_the_deadline_and_is_asked_again(flaky):
    server = flaky(["drip"])
    chat = OpenAIChat(server.url, "m", policy=Policy(tries=2, timeout=1.5, **FAST))
    t = time.monotonic()
    assert chat([Prompt("hi")]) == ["ok"]
    assert time.monotonic() - t < 5  # the drip alone would take len(GOOD) / 2 s, over 30 s
    assert chat.stats.retries == 1


def test_retry_after_is_honoured_and_bounded(flaky):
    server = flaky([(429, 1), (503, 100)])
    chat = OpenAIChat(server.url, "m", policy=Policy(tries=3, backoff=0.01, max_wait=1.5))
    assert chat([Prompt("hi")]) == ["ok"]
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    assert 0.9 < gaps[0] < 1.4  # the server's 1 s
    assert 1.4 < gaps[1] < 2.0  # its 100 s, capped at max_wait


def test_backoff_grows_between_tries_and_giving_up_is_one_line(flaky):
    server = flaky([503] * 4)
    chat = OpenAIChat(server.url, "m", role="judge", policy=Policy(tries=4, backoff=0.1, max_wait=5))
    with pytest.raises(SeethinkError) as e:
        chat([Prompt("hi")])
    msg = str(e.value)
    assert (
        msg.startswith(f"judge {server.url}/chat/completions: gave up after 4 tries; last: HTTP 503")
        and "\n" not in msg
    )
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    assert len(gaps) == 3 and gaps[2] > gaps[0]  # 0.05-0.1 s, then 0.1-0.2, then 0.2-0.4
    assert (chat.stats.retries, chat.stats.failures) == (3, 1)


def test_a_client_error_is_not_retried(flaky):
    server = flaky([401])
    chat = OpenAIChat(server.url, "m", policy=Policy(tries=5, **FAST))
    with pytest.raises(SeethinkError, match="HTTP 401"):
        chat([Prompt("hi")])
    assert len(server.times) == 1


def test_settings_come_from_the_environment_and_bad_values_are_one_line(monkeypatch):
    monkeypatch.setenv("SEETHINK_ENDPOINT_TRIES", "2")
    monkeypatch.setenv("SEETHINK_ENDPOINT_TIMEOUT", "7.5")
    p = Policy.from_env()
    assert (p.tries, p.timeout) == (2, 7.5)
    monkeypatch.setenv("SEETHINK_ENDPOINT_TRIES", "0")
    with pytest.raises(SeethinkError, match=r"SEETHINK_ENDPOINT_TRIES: expected a whole number in \[1, 100\], got '0'"):
        Policy.from_env()
    monkeypatch.setenv("SEETHINK_ENDPOINT_TRIES", "2")
    for bad in ("nan", "inf", "-1", "1e9"):  # nan passed a `< low` test and then crashed the first request
        monkeypatch.setenv("SEETHINK_ENDPOINT_TIMEOUT", bad)
        with pytest.raises(SeethinkError, match=f"SEETHINK_ENDPOINT_TIMEOUT: expected a number in .*got '{bad}'"):
            Policy.from_env()


def test_an_interrupted_run_resumes_from_its_cache(flaky, tmp_path):
    """Replies are cached as they arrive: after giving up half way, a rerun asks only what is missing."""
    server = flaky([None, None, 503, 503])  # the third question fails twice: the first run gives up there
    prompts = [Prompt(f"q{i}") for i in range(5)]
    cache = tmp_path / "c.jsonl"
    chat = OpenAIChat(server.url, "m", concurrency=1, policy=Policy(tries=2, **FAST))
    with pytest.raises(SeethinkError, match="gave up after 2 tries"):
        cached(chat, ReplyCache(cache), chunk=1)(prompts)
    assert len(cache.read_text().splitlines()) == 2
    asked = len(server.times)
    again = OpenAIChat(server.url, "m", concurrency=1, policy=Policy(tries=2, **FAST))
    assert cached(again, ReplyCache(cache), chunk=1)(prompts) == ["ok"] * 5
    assert len(server.times) - asked == 3 and again.stats.requests == 3


@pytest.mark.parametrize("content", [{"a": 1}, 7, [{"type": "text", "text": 3}]])
def test_a_reply_whose_content_is_not_text_is_one_line_and_never_cached(flaky, tmp_path, content):
    """An object as `content` was cached first and crashed every rerun (unhashable type: 'slice') without asking
    again; now it is refused before the cache, and the rerun asks the server."""
    server = flaky([{"content": content}])
    cache = tmp_path / "c.jsonl"
    chat = OpenAIChat(server.url, "m", concurrency=1, policy=Policy(tries=1, **FAST))
    with pytest.raises(SeethinkError, match="not an OpenAI chat completion with text content"):
        cached(chat, ReplyCache(cache), chunk=1)([Prompt("q")])
    assert not cache.exists() or cache.read_text() == ""
    assert cached(chat, ReplyCache(cache), chunk=1)([Prompt("q")]) == ["ok"]  # asked again, answered


def test_content_parts_are_joined_and_null_is_empty(flaky):
    server = flaky([{"content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]}, {"content": None}])
    chat = OpenAIChat(server.url, "m", concurrency=1, policy=Policy(tries=1, **FAST))
    assert chat([Prompt("q1"), Prompt("q2")]) == ["AB", ""]


def test_a_cache_line_with_a_non_text_reply_is_asked_again(flaky, tmp_path):
    cache = tmp_path / "c.jsonl"
    key = ReplyCache(cache).key("x", "q", None)
    cache.write_text(json.dumps({"key": key, "reply": {"a": 1}}) + "\n")
    assert key not in ReplyCache(cache).replies


def test_ctrl_c_ends_a_long_retry_after_wait_at_once(flaky, tmp_path):
    """A server asking for a day's wait (capped at SEETHINK_ENDPOINT_MAX_WAIT, here an hour) must not keep a
    Ctrl-C waiting: the command exits 130 within seconds, and the pool's other workers stop too."""
    import os
    import signal
    import subprocess
    import sys

    server = flaky([(429, 86400)] * 8)
    data = tmp_path / "d.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"r{i}",
                    "problem": f"Which is {i}?",
                    "answer": "A",
                    "options": [str(i), "x", "y", "z"],
                    "capability": "text_reasoning",
                }
            )
            + "\n"
            for i in range(8)
        )
    )
    env = {**os.environ, "SEETHINK_ENDPOINT_MAX_WAIT": "3600", "SEETHINK_ENDPOINT_TRIES": "3"}
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seethink",
            "data",
            "filter",
            str(data),
            "--out",
            str(tmp_path / "o"),
            "--blind",
            f"{server.url}::m",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(server.times) < 1 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.1)
    assert server.times, "the command never asked the server"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, err = p.communicate(timeout=30)
    assert time.monotonic() - t0 < 10, "Ctrl-C waited for the Retry-After"
    assert p.returncode == 130, err[-2000:]
    assert "Traceback" not in err
