"""Symbolic answer equivalence (`\\frac{\\sqrt{3}}{2}` == `\\sqrt{3}/2`) with math-verify, under a hard time limit.

math-verify parses LaTeX into sympy and compares. Some inputs make sympy compute for minutes inside C code
(`10^{10^{10}}`, `100000!`), where a signal-based timeout never fires, and a signal can only be armed from the
main thread. So the comparison runs in one long-lived worker process; the caller waits at most `timeout`
seconds, then kills the worker (a fresh one is started on the next call) and counts the answer as wrong
this time; a pair is remembered as wrong only after its second timeout (`equivalent`). Obvious bombs are
refused before they reach the worker, so a kill is rare.

sympy loads much of itself lazily: the first polynomial, set or trigonometric comparison in a process took
0.1-0.6 s here (past the old 0.5 s deadline on a busy machine), later ones a few ms. The worker therefore
runs `WARM_UP`, one comparison of each kind, before it reports ready, and start-up is never timed against a
comparison's deadline.

Only answers that are neither MCQ options nor plain numbers get here (see `seethink.rewards.accuracy`); the
built-in world never needs it.
"""

from __future__ import annotations

import atexit
import json
import queue
import subprocess
import sys
import threading
import warnings

from seethink.grading import plausible

TIMEOUT = 2.0  # seconds per comparison, after the worker is up and warm (a warm comparison takes ~1-100 ms)
START_TIMEOUT = 60.0  # seconds for a new worker to import sympy and run WARM_UP
# one comparison of each kind whose first use in a process is slow (gold, pred)
WARM_UP = (
    ("x^2+2x+1", "(x+1)^2"),
    ("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2"),
    ("\\pi/2", "\\frac{\\pi}{2}"),
    ("\\{1,2\\}", "\\{2,1\\}"),
    ("[0,1)", "[0,1)"),
    ("(1,2)", "(1, 2)"),
    ("x=2", "2"),
    ("\\sin(x)^2+\\cos(x)^2", "1"),
    ("\\log(8)", "3\\log(2)"),
)


def _serve() -> None:  # runs in the worker process: `python -m seethink.mathcheck`, JSON lines on stdin/stdout
    import json
    import logging
    import resource
    import sys

    from math_verify import parse, verify

    # math-verify warns once per process that its own timeouts are off: they are, the parent enforces one
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    limit = 1 << 30  # 1 GiB: a runaway computation fails with MemoryError instead of swapping
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def equal(gold: str, pred: str) -> bool:
        try:
            g = parse(f"${gold}$", parsing_timeout=None)
            p = parse(f"${pred}$", parsing_timeout=None)
            return bool(g) and bool(p) and bool(verify(g, p, timeout_seconds=None))
        except BaseException:  # noqa: BLE001 - any failure of the grader means "not shown equal"
            return False

    for gold, pred in WARM_UP:
        equal(gold, pred)
    out = sys.stdout
    out.write('"ready"\n')
    out.flush()
    for line in sys.stdin:
        gold, pred = json.loads(line)
        out.write(json.dumps(equal(gold, pred)) + "\n")
        out.flush()


class _Worker:
    """The worker as a child process with a line pipe each way. A reader thread moves its replies into a
    queue, so a wait for one has a deadline (`poll`) on every platform."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seethink.mathcheck"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._replies: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        self._next = None

    def _read(self, stream) -> None:
        for line in stream:
            self._replies.put(line)
        self._replies.put(None)  # end of file: the worker is gone

    def send(self, item) -> None:
        self.proc.stdin.write(json.dumps(item) + "\n")
        self.proc.stdin.flush()

    def poll(self, timeout: float) -> bool:
        """True once a reply (or the worker's end) has arrived, waiting at most `timeout` seconds."""
        if self._next is None:
            try:
                self._next = self._replies.get(timeout=timeout)
            except queue.Empty:
                return False
        return True

    def recv(self):
        if not self.poll(START_TIMEOUT):
            raise EOFError("no reply")
        line, self._next = self._next, None
        if line is None:
            raise EOFError("the worker ended")
        return json.loads(line)

    def is_alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.kill()
        self.join(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def join(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


class Checker:
    """One worker process, started on first use, restarted after a timeout; thread-safe.

    The worker is a plain child process running `python -m seethink.mathcheck`, not a multiprocessing one:
    a spawned multiprocessing child re-imports the caller's main script, so a script without an
    `if __name__ == "__main__":` guard made every worker fail at start-up (a 60 s stall per comparison)."""

    def __init__(self, timeout: float = TIMEOUT):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._proc: _Worker | None = None
        self.kills = 0

    @property
    def _conn(self) -> _Worker | None:
        return self._proc

    def _ready(self) -> bool:
        """A live, warmed-up worker (caller holds the lock); waits for start-up outside any comparison's
        deadline. False if a new worker did not report ready within START_TIMEOUT (or died starting)."""
        if self._proc is not None and self._proc.is_alive():
            return True
        try:
            self._proc = _Worker()
            if self._proc.poll(START_TIMEOUT) and self._proc.recv() == "ready":
                return True
        except (EOFError, OSError, ValueError):
            pass
        self._stop()
        warnings.warn(
            f"seethink.mathcheck: the math-verify worker did not start within {START_TIMEOUT:g} s; "
            "symbolic answers are scored as wrong until one does",
            RuntimeWarning,
            stacklevel=2,
        )
        return False

    def warm(self) -> None:
        """Start the worker now (importing sympy and warming up take ~1-2 s), so the first comparison waits
        for nothing."""
        with self._lock:
            self._ready()

    def decide(self, gold: str, pred: str) -> bool | None:
        """True/False: math-verify's verdict (False also for inputs refused as implausible); None: undecided,
        because the comparison hit the deadline, the worker died, or no worker started."""
        if not (plausible(gold) and plausible(pred)):
            return False
        with self._lock:
            if not self._ready():
                return None
            try:
                self._proc.send((gold, pred))
                if self._proc.poll(self.timeout):
                    return bool(self._proc.recv())
                self.kills += 1  # past the deadline
            except (EOFError, OSError, ValueError):  # the worker died (e.g. out of memory)
                pass
            self._stop()  # a new worker starts on the next call
            return None

    def equal(self, gold: str, pred: str) -> bool:
        """Shown equal within the limits; undecided counts as not equal."""
        return self.decide(gold, pred) is True

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
        self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()


_checker = Checker()
atexit.register(_checker.close)


CACHE_SIZE = 1 << 16  # verdicts kept per process
_verdicts: dict[tuple[str, str], bool] = {}
_undecided_once: set[tuple[str, str]] = set()


def equivalent(gold: str, pred: str) -> bool:
    """True if math-verify shows `pred` equal to `gold` within the time limit. Verdicts are cached. An undecided
    comparison counts as not equal but is tried again next time, so a timeout on a busy machine does not score
    that answer wrong for the rest of the run; undecided twice, it is cached as not equal (a real bomb costs a
    kill and a restart twice, not on every rollout that repeats it)."""
    key = (gold, pred)
    if key in _verdicts:
        return _verdicts[key]
    verdict = _checker.decide(gold, pred)
    if verdict is None:
        if key not in _undecided_once:
            if len(_undecided_once) >= 1 << 12:
                _undecided_once.clear()
            _undecided_once.add(key)
            return False
        verdict = False
    _undecided_once.discard(key)
    if len(_verdicts) >= CACHE_SIZE:
        _verdicts.clear()
    _verdicts[key] = verdict
    return verdict


if __name__ == "__main__":
    _serve()
