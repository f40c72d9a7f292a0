"""The live table of run states: a rich table on a terminal, plain lines otherwise."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.live import Live
from rich.table import Table

from bench.matrix.index import IndexEntry

STYLES = {
    "queued": "dim",
    "running": "cyan",
    "done": "green",
    "failed": "red",
    "interrupted": "yellow",
}


class StateTable:
    """Shows ``labels`` (run_id -> label) with their index states.

    ``update(entries)`` redraws the rich table (terminal) or prints one line per state
    change (pipes, logs, CI). Use as a context manager around the launch.
    """

    def __init__(self, labels: dict[str, str], console: Console | None = None):
        self.labels = labels
        self.console = console or Console()
        self._seen: dict[str, tuple[str, str | None]] = {}
        self._entries: dict[str, IndexEntry] = {}
        self._live: Live | None = None

    def __enter__(self) -> StateTable:
        if self.console.is_terminal:
            self._live = Live(self.render(), console=self.console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(*exc)
            self._live = None

    def update(self, entries: dict[str, IndexEntry]) -> None:
        self._entries = {k: v for k, v in entries.items() if k in self.labels}
        if self._live is not None:
            self._live.update(self.render())
            return
        for run_id, entry in self._entries.items():
            state = (entry.status, entry.failure)
            if self._seen.get(run_id) != state:
                self._seen[run_id] = state
                self.console.print(self.line(entry), highlight=False, soft_wrap=True)

    def line(self, entry: IndexEntry) -> str:
        text = f"{entry.status:<8} {self.labels[entry.run_id]}  ({entry.run_id})"
        extra = entry.failure or entry.note
        return f"{text}: {extra}" if extra else text

    def render(self) -> Table:
        table = Table(title=self.summary(), title_justify="left")
        for column in ("state", "run", "run id", "detail"):
            table.add_column(column)
        for run_id, label in self.labels.items():
            entry = self._entries.get(run_id)
            status = entry.status if entry else "queued"
            detail = (entry.failure or entry.note or "") if entry else ""
            table.add_row(f"[{STYLES[status]}]{status}[/]", label, run_id, detail)
        return table

    def summary(self) -> str:
        """e.g. ``matrix: 6 runs: 4 done, 1 failed, 1 running``."""
        counts = Counter(e.status for e in self._entries.values())
        counts["queued"] += len(self.labels) - len(self._entries)
        order = ("done", "failed", "interrupted", "running", "queued")
        parts = [f"{counts[s]} {s}" for s in order if counts[s]]
        return f"matrix: {len(self.labels)} runs: {', '.join(parts)}"
