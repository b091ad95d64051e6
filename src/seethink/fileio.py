"""Atomic file writing: write to a temporary file in the same folder, then rename over the target.

A reader (or a resumed run) therefore sees either the old complete file or the new complete file, never a
half-written one, even if the process is killed mid-write. Temporaries a killed process left behind are
removed by the next write of the same target.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from seethink.errors import SeethinkError


def ensure_dir(path: str | os.PathLike, what: str = "output directory") -> Path:
    """Create `path` (and parents) or raise a one-line error if it is a file or not writable."""
    p = check_folder_target(path, what)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SeethinkError(f"cannot create {what} {p}: {e.strerror or e}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise SeethinkError(f"{what} {p} is not writable")
    return p


def check_folder_target(path: str | os.PathLike, what: str = "output folder") -> Path:
    """A folder that will be written (or replaced) later: refuse at once if a file is in its place."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SeethinkError(f"{what} {p} exists and is not a directory")
    return p


def real_path(path: str | os.PathLike) -> Path:
    """`path` absolute, with every symlink and `..` resolved (a missing tail is kept as written): the one name
    under which an output is locked and compared, so an alias (`ln -s out alias`, `out/../out`) is the same
    output."""
    return Path(os.path.abspath(path)).resolve()


def check_owned(path: str | os.PathLike, markers: tuple[str, ...], command: str, what: str = "output folder") -> Path:
    """An output folder that `command` writes into or replaces: a missing or empty folder, or one holding a file
    matching one of `markers` (glob patterns of files only `command` writes, i.e. its own earlier output). Any
    other existing folder is the user's: refused in one line, so a mistyped `--out` never replaces their files."""
    p = check_folder_target(path, what)
    if p.is_dir() and any(p.iterdir()) and not any(next(p.glob(m), None) for m in markers):
        raise SeethinkError(
            f"{what} {p} exists, is not empty and holds no {markers[0]} (it was not written by "
            f"{command}); choose a new or empty folder"
        )
    return p


def check_not_input(
    out: str | os.PathLike, inputs: Iterable[str | os.PathLike], what: str = "--out", replaced_whole: bool = False
) -> None:
    """Refuse an output folder that is the folder of one of the inputs (a file input: its folder), or, for an
    output replaced whole, one that holds an input: the write would replace what is being read."""
    o = real_path(out)
    for i in inputs:
        src = real_path(i)
        folder = src.parent if src.is_file() else src
        if o == folder or (replaced_whole and o in folder.parents):
            raise SeethinkError(
                f"{what} {out} overlaps the input {i}; writing there would replace the input — choose a separate folder"
            )


MAX_TEXT_BYTES = 1 << 30  # 1 GiB: a record file, config or recipe larger than this is refused, not read into memory


def read_text(path: str | os.PathLike, what: str = "file", limit: int = MAX_TEXT_BYTES) -> str:
    """The one decoding rule for every text file seethink reads (records, recipes, studies, configs, metrics):
    UTF-8 (a BOM is dropped), at most `limit` bytes; anything else is one line naming the file."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise SeethinkError(f"{what} {p} is a folder, not a file")
        if size > limit:
            raise SeethinkError(f"{what} {p} is {size:,} bytes; the limit is {limit:,}")
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SeethinkError(f"{what} {p} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    except FileNotFoundError:
        raise SeethinkError(f"{what} {p} does not exist") from None
    except OSError as e:
        raise SeethinkError(f"cannot read {what} {p}: {e.strerror or e}") from None


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """A JSON file through `read_text`; malformed JSON (or an integer past Python's 4,300 digits) is one line."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SeethinkError(f"{what} {path}: malformed JSON ({e.msg}, line {e.lineno})") from None
    except ValueError as e:
        raise SeethinkError(f"{what} {path}: unreadable JSON ({e})") from None


def read_jsonl(path: str | os.PathLike, what: str = "file") -> list:
    """The rows of a JSONL file this program appends to (metrics, caches): a last line torn by a kill is dropped;
    a malformed line before it means the file is not ours, one line naming it and the line."""
    lines = [(n, line) for n, line in enumerate(read_text(path, what).splitlines(), 1) if line.strip()]
    rows = []
    for k, (n, line) in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if k == len(lines) - 1:
                break  # torn by a kill mid-append
            raise SeethinkError(f"{what} {path}:{n}: malformed JSON") from None
    return rows


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale(target: Path) -> None:
    """Temporaries of `target` left by a killed process (a kill skips every cleanup); never read, only litter."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def held_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing) while the block runs, so that two processes
    building the same thing (two runs sharing a world folder) take turns; a lock dies with its process. Where
    `fcntl` is missing (Windows) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_enospc(e: BaseException) -> bool:
    """The operating system's own "no space left" (ENOSPC) or "quota exceeded" (EDQUOT)."""
    import errno

    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def _is_disk_full(e: BaseException, where: Path) -> bool:
    """ENOSPC/EDQUOT, or a writer's error that hides it (torch: "file write failed"; safetensors: "StorageFull")
    while the filesystem under `where` has (almost) nothing left."""
    if is_enospc(e):
        return True
    text = str(e)
    if "No space left" in text or "StorageFull" in text or "Disk quota exceeded" in text:
        return True
    if isinstance(e, (OSError, RuntimeError)) or type(e).__name__ == "SafetensorError":
        try:
            return shutil.disk_usage(where).free < 1 << 20
        except OSError:
            return False
    return False


@contextmanager
def disk_full_is_one_line(where: str | os.PathLike, cleanup=None) -> Iterator[None]:
    """A full disk while the block writes under `where` becomes one line naming `where` and "no space left";
    `cleanup()` runs first (e.g. removing a half-written checkpoint). Everything else passes through."""
    try:
        yield
    except SeethinkError:
        raise
    except Exception as e:
        if not _is_disk_full(e, Path(where)):
            raise
        if cleanup is not None:
            cleanup()
        raise SeethinkError(
            f"no space left on device under {where}; free some space and rerun the same command to resume"
        ) from None


WRITER_STALE_SECONDS = 120.0
"""A writer lock naming another host counts as abandoned once its heartbeat is this old (see `writer_lock`)."""


@contextmanager
def writer_lock(target: str | os.PathLike, command: str, stale_after: float = WRITER_STALE_SECONDS) -> Iterator[None]:
    """Make this process the only writer of the output `target` while the block runs.

    The lock is `.NAME.writer` beside `target` (the output itself may not exist yet, or be replaced whole): an
    exclusive `flock`, which the kernel drops when its process dies, plus a note of who holds it (pid, host,
    command, start), its modification time refreshed every `stale_after / 4` seconds, removed on release. A
    second writer stops at once with one line naming the holder (`WriterBusy`). A note left by a process that is
    gone (killed) is taken over with a one-line notice; so is one from another host (a shared filesystem, where
    `flock` may not reach across hosts) whose heartbeat is older than `stale_after`."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one writer per output is then the user's to keep
        yield
        return
    import threading

    p = real_path(target)  # two aliases of one output take one lock
    ensure_dir(p.parent, "output directory")
    lock = p.parent / f".{p.name}.writer"
    while True:
        try:
            f = open(lock, "a+")
        except OSError as e:
            raise SeethinkError(f"cannot write {target}: cannot create {lock} ({e.strerror or e})") from None
        try:
            if _claim(f, lock, p, command, stale_after, fcntl):
                break
        except BaseException:
            f.close()
            raise
        f.close()  # the holder released (and removed) the file between our open and our lock: try again
    stop = threading.Event()

    def beat():
        while not stop.wait(stale_after / 4):
            try:
                os.utime(lock)
            except OSError:  # removed or unreachable: the flock still holds; only the heartbeat is lost
                return

    threading.Thread(target=beat, daemon=True).start()
    try:
        yield
    finally:
        stop.set()
        lock.unlink(missing_ok=True)  # released cleanly: nothing is left; a killed writer leaves its note
        f.close()  # drops the flock


class WriterBusy(SeethinkError):
    """`writer_lock`: another live process writes the target; `holder` names it (pid, host, command, start)."""

    def __init__(self, message: str, holder: str):
        super().__init__(message)
        self.holder = holder


def _holder(note) -> str:
    if not isinstance(note, dict):
        return "another process"
    return f"pid {note.get('pid')} on {note.get('host')} ({note.get('command')}, started {note.get('started')})"


def _claim(f, lock: Path, target: Path, command: str, stale_after: float, fcntl) -> bool:
    """Take the flock of the open lock file `f` and write this process's note into it, or raise naming the holder.
    False: `f` was removed by a writer that released it meanwhile (the caller opens the file anew)."""
    import socket
    import sys
    import time

    f.seek(0)
    try:
        note = json.loads(f.read() or "null")
    except ValueError:
        note = None
    host = socket.gethostname()
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise WriterBusy(
            f"{target} is being written by {_holder(note)}; wait for it to finish or choose another output",
            _holder(note),
        ) from None
    try:
        if os.stat(lock).st_ino != os.fstat(f.fileno()).st_ino:
            return False
    except FileNotFoundError:
        return False
    if isinstance(note, dict) and note.get("host") not in (None, host):
        age = time.time() - lock.stat().st_mtime
        if age < stale_after:
            fcntl.flock(f, fcntl.LOCK_UN)
            raise WriterBusy(
                f"{target} is being written by {_holder(note)} (heartbeat {age:.0f} s ago); wait for "
                "it to finish or choose another output",
                _holder(note),
            )
    if isinstance(note, dict):
        print(
            f"note: {target} was left locked by {_holder(note)}, which is no longer running; taking it over",
            file=sys.stderr,
        )
    f.seek(0)
    f.truncate()
    f.write(
        json.dumps(
            {"pid": os.getpid(), "host": host, "command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        )
    )
    f.flush()
    return True


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it is renamed to `path`, on failure removed."""
    target = Path(path)
    if target.is_dir():
        raise SeethinkError(f"{target} is a folder; name a file to write")
    if not target.parent.is_dir():
        raise SeethinkError(f"cannot write {target}: folder {target.parent} does not exist")
    _remove_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces `path` as a whole, on failure it is removed."""
    target = check_folder_target(path)
    ensure_dir(target.parent)
    _remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
