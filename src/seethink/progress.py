"""Progress bars, one way everywhere.

rich renders nothing live when stdout is not a terminal (a log file, a pipe, CI) but still prints a blank
line when a transient bar stops; short transient bars are therefore switched off there.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress


def progress_bar(transient: bool = True) -> Progress:
    return Progress(transient=transient, disable=transient and not Console().is_terminal)
