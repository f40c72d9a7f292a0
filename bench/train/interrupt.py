"""SIGTERM and SIGINT during a run become :class:`RunInterrupted`, so the run can record
``interrupted`` (``--resume`` continues it from its newest checkpoint) instead of dying with
its record at ``running``.

The CLI reports it as an :class:`InterruptedRunError`. Only the main thread can install
handlers; elsewhere (a test's worker thread) the handlers
are left as they are. A second signal while the first is being handled is ignored until
:func:`signals_interrupt` exits.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from bench.errors import BenchError

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``exit_code`` is the shell's ``128 + signal number``."""

    def __init__(self, signum: int, message: str | None = None):
        self.signum, self.signal_name = signum, signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(message or f"interrupted by {self.signal_name}")


class InterruptedRunError(BenchError):
    """What the CLI raises for a RunInterrupted (typer would turn a KeyboardInterrupt into a
    silent exit 130): one line, exit code ``128 + signal number``."""

    def __init__(self, exc: RunInterrupted):
        super().__init__(str(exc))
        self.exit_code = exc.exit_code


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM/SIGINT raise RunInterrupted (once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handler(signum, frame):
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise RunInterrupted(signum)

    for sig in SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
