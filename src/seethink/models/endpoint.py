"""One POST to an OpenAI-compatible endpoint, with what a flaky server needs: a deadline, retries, backoff.

A request is retried when the server is busy or failing (HTTP 408, 409, 425, 429, 5xx), when the connection
fails, is reset or times out, when no complete reply arrives within the deadline (a server that drips a byte
a second never trips a per-read timeout, so the whole exchange has one), and when the reply is not JSON.
Waits grow exponentially with jitter, `backoff * 2**attempt` seconds, at most `max_wait`; a `Retry-After`
header (seconds or an HTTP date) is honoured, up to `max_wait` too. After `tries` attempts the command stops
with one line naming the endpoint and the last problem. Other HTTP errors (401, 404, …) stop at once: asking
again cannot help. Counts of requests, retries and failures are kept per endpoint for the command's summary.

Settings come from the environment, so that every tool model of a command (generator, filters, judge, the
judge inside a training run) gets them: SEETHINK_ENDPOINT_TRIES (default 5), SEETHINK_ENDPOINT_TIMEOUT
(seconds for one request, default 120), SEETHINK_ENDPOINT_MAX_WAIT (default 60).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from seethink.errors import SeethinkError

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def _env_number(name: str, default: float, low: float, high: float, whole: bool = False) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:  # also refuses nan and inf
        kind = "a whole number" if whole else "a number"
        raise SeethinkError(f"environment variable {name}: expected {kind} in [{low:g}, {high:g}], got {raw!r}")
    return value


@dataclass
class Policy:
    """How hard to try. `from_env()` reads the SEETHINK_ENDPOINT_* variables."""

    tries: int = 5
    timeout: float = 120.0
    backoff: float = 1.0
    max_wait: float = 60.0

    @classmethod
    def from_env(cls) -> "Policy":
        return cls(
            tries=int(_env_number("SEETHINK_ENDPOINT_TRIES", 5, 1, 100, whole=True)),
            timeout=_env_number("SEETHINK_ENDPOINT_TIMEOUT", 120.0, 0.001, 3600),
            max_wait=_env_number("SEETHINK_ENDPOINT_MAX_WAIT", 60.0, 0, 3600),
        )


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def line(self, name: str) -> str:
        return f"{name}: {self.requests} requests, {self.retries} retried, {self.failures} given up"


def usage_lines(*models) -> list[str]:
    """One line per OpenAI-compatible tool model (generator, filter, judge) that sent requests: how many, how many
    were retried, how many given up. Local models and unused ones give none."""
    return [
        m.stats.line(f"{m.role} {m.url}") for m in models if getattr(m, "stats", None) is not None and m.stats.requests
    ]


class Transient(Exception):
    """A failure worth another try; `retry_after` is the server's own wait, in seconds, if it gave one."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when else None


class Cancelled(SeethinkError):
    """The caller gave up (Ctrl-C in another thread): no further request or wait."""


def _exchange(url: str, body: bytes, headers: dict, timeout: float, cancel: threading.Event) -> dict:
    """One request within `timeout` seconds in all; a parsed JSON reply, or Transient, or SeethinkError."""
    box: dict = {}

    def go():
        try:
            with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=timeout) as r:
                box["payload"] = r.read()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    worker = threading.Thread(target=go, daemon=True)  # abandoned if it overruns: a daemon never blocks exit
    worker.start()
    deadline = time.monotonic() + timeout
    while worker.is_alive() and time.monotonic() < deadline:
        if cancel.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            raise Cancelled("cancelled")
        worker.join(0)  # the wait above, not join, sleeps: a Ctrl-C in the main thread stops this one within 0.1 s
    if worker.is_alive():
        raise Transient(f"no complete reply within {timeout:g} s")
    e = box.get("error")
    if isinstance(e, urllib.error.HTTPError):
        if e.code in RETRY_STATUS:
            raise Transient(
                f"HTTP {e.code} {e.reason}", _retry_after(e.headers.get("Retry-After") if e.headers else None)
            )
        raise SeethinkError(f"HTTP {e.code} {e.reason}")
    if isinstance(e, (urllib.error.URLError, OSError, http.client.HTTPException)):
        raise Transient(str(getattr(e, "reason", None) or e or type(e).__name__))
    if e is not None:
        raise e
    try:
        return json.loads(box["payload"])
    except (ValueError, UnicodeDecodeError):
        raise Transient(f"reply is not JSON: {box['payload'][:80]!r}") from None


def post_json(
    url: str, body: bytes, headers: dict, policy: Policy, stats: Stats, who: str, cancel: threading.Event | None = None
) -> dict:
    """POST `body` to `url` and return its JSON reply, retrying as the module says; `who` starts error lines.
    Setting `cancel` (from the thread that got Ctrl-C) ends the request and any wait for a retry at once."""
    cancel = cancel or threading.Event()
    stats.count("requests")
    for attempt in range(policy.tries):
        if cancel.is_set():
            raise Cancelled(f"{who}: cancelled")
        try:
            return _exchange(url, body, headers, policy.timeout, cancel)
        except SeethinkError as e:
            stats.count("failures")
            raise SeethinkError(f"{who}: {e}") from None
        except Transient as e:
            if attempt == policy.tries - 1:
                stats.count("failures")
                raise SeethinkError(f"{who}: gave up after {policy.tries} tries; last: {e}") from None
            stats.count("retries")
            wait = e.retry_after if e.retry_after is not None else policy.backoff * 2**attempt * random.uniform(0.5, 1)
            cancel.wait(min(wait, policy.max_wait))  # a Retry-After of a day waits max_wait, and Ctrl-C ends it
    raise AssertionError("unreachable")  # the loop returns or raises
