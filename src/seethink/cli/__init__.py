"""The `seethink` command: one module per verb group, each with its parser beside its handlers.

Handlers parse arguments and print; the library checks values. User errors (SeethinkError) print one line and
exit 2; Ctrl-C exits 130. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys

from seethink import __version__
from seethink.cli import data, evaluate, experiment, export, miniature, train
from seethink.errors import SeethinkError
from seethink.fileio import is_enospc

GROUPS = (miniature, train, evaluate, data, export, experiment)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seethink", description="Post-train VLMs along a capability curriculum: see first, then think."
    )
    p.add_argument("--version", action="version", version=f"seethink {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SeethinkError as e:
        print(f"seethink: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except OSError as e:
        if not is_enospc(e):
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(
            f"seethink: error: no space left on device{where}; free some space and rerun the same command",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("seethink: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
