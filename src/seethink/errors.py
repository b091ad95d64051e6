"""User-facing errors.

Anything the user can fix (a bad path, a malformed file, a wrong argument) raises `SeethinkError` with a
one-line message naming the file or field. The CLI prints that line and exits with status 2; every other
exception is a bug and keeps its traceback.
"""


class SeethinkError(Exception):
    """An error caused by the user's input, reported as one line without a traceback."""
