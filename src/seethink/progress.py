"""Progress bars, one way everywhere.

rich renders nothing live when stdout is not a terminal (a log file, a pipe, CI) but still prints a blank
line when a transient bar stops; short transient bars are therefore switched off there.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress


def progress_bar(transient: bool = True, show: bool = True) -> Progress:
    """`show=False`: no bar at all (e.g. an evaluation inside a training stage, whose own bar is on screen)."""
    return Progress(transient=transient, disable=not show or (transient and not Console().is_terminal))
