"""Progress display behind a small protocol: a bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console


class Display(Protocol):
    """Shows progress of one long step at a time."""

    def start(self, label: str, total: int) -> None:
        """Begin a step of ``total`` units."""
        ...

    def advance(self, n: int = 1) -> None:
        """Record ``n`` more units done."""
        ...

    def stop(self) -> None:
        """End the current step."""
        ...


class PlainDisplay:
    """Prints a line at most every few seconds (logs, CI, pipes)."""

    def __init__(self, every_s: float = 5.0) -> None:
        """Create a display that prints at most every ``every_s`` seconds."""
        self.every_s = every_s
        self.label = ""
        self.total = 0
        self.done = 0
        self._last = 0.0
        self._t0 = 0.0

    def start(self, label: str, total: int) -> None:
        """Begin a step."""
        self.label, self.total, self.done = label, total, 0
        self._t0 = self._last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        """Count progress; print when enough time has passed."""
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            print(f"{self.label}: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Print the step's total and time."""
        print(f"{self.label}: {self.done}/{self.total} in {time.monotonic() - self._t0:.1f} s", file=sys.stderr)


class RichDisplay:
    """A rich progress bar with rate and ETA."""

    def __init__(self) -> None:
        """Create the bar (not shown until :meth:`start`)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False
        )
        self._task: object | None = None

    def start(self, label: str, total: int) -> None:
        """Show a bar for a new step."""
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        """Move the bar."""
        if self._task is not None:
            self._progress.advance(self._task, n)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Finish the bar."""
        self._progress.stop()
        self._task = None


class SilentDisplay:
    """Shows nothing: for when another view (the terminal app) owns the screen."""

    def start(self, label: str, total: int) -> None:
        """Ignore the start of a step."""

    def advance(self, n: int = 1) -> None:
        """Ignore progress."""

    def stop(self) -> None:
        """Ignore the end of a step."""


def make_display() -> Display:
    """Return a bar on a terminal and plain lines otherwise."""
    return RichDisplay() if sys.stderr.isatty() else PlainDisplay()


def make_console() -> Console:
    """A console for command output: the terminal's width, or 160 columns when piped.

    Rich would squeeze tables into 80 columns when output goes to a file or a
    pipe, truncating headers; logs and CI are read in wider windows than that.
    """
    import os

    from rich.console import Console

    wide = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
    return Console(soft_wrap=True, width=wide)
