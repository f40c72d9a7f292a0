"""Progress on stderr: a rich bar when stderr is a terminal, plain lines otherwise.

Batch jobs (SLURM, nohup, ``> log 2>&1``) get one line per report, flushed at once, so a log
file shows where a run is; an interactive terminal gets a live bar instead. stdout stays free
for results (``bench run``'s last stdout line is the run directory).
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal (rich's view, so FORCE_COLOR etc. count)."""
    return Console(stderr=True).is_terminal


def say(line: str) -> None:
    """Print one plain line on stderr and flush it (start-up summaries, warnings)."""
    print(line, file=sys.stderr, flush=True)


class ProgressDisplay:
    """Progress of ``total`` units of work, ``completed`` of them already done.

    Args:
        name: what is running ("train", "eval test").
        total, completed: units (steps, structures).
        show: False hides everything (ranks other than 0).
        plain: plain lines instead of a bar; default: when stderr is not a terminal.

    Use as a context manager; ``update(advance, info)`` advances the bar, ``line(text)``
    prints a plain line (only in plain mode) prefixed by ``name``, ``note(text)`` prints a line
    in both modes.
    """

    def __init__(
        self,
        name: str,
        total: int,
        completed: int = 0,
        show: bool = True,
        plain: bool | None = None,
    ) -> None:
        self.name, self.total, self.done = name, total, completed
        self.show = show
        self.plain = (not stderr_is_terminal()) if plain is None else plain
        self.progress = Progress(
            TextColumn(name),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not show or self.plain,
        )
        self.task = self.progress.add_task(name, total=total, completed=completed, info="")
        self.start, self.start_done = time.perf_counter(), completed

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def update(self, advance: int = 1, info: str = "") -> None:
        self.done += advance
        self.progress.update(self.task, advance=advance, info=info)

    def line(self, text: str) -> None:
        if self.show and self.plain:
            say(f"{self.name} {text}")

    def note(self, text: str) -> None:
        """Print ``text`` on stderr in either mode (above the bar on a terminal)."""
        if self.show:
            self.progress.console.print(text)

    def eta_s(self) -> float | None:
        """Seconds left at the mean rate since this display started (None before any work)."""
        done = self.done - self.start_done
        if done <= 0:
            return None
        return (time.perf_counter() - self.start) / done * (self.total - self.done)


def format_seconds(seconds: float | None) -> str:
    """``"1h02m"``, ``"3m05s"``, ``"12s"``; ``"?"`` for None."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"
