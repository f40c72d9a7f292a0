"""Local launcher: at most ``jobs`` runs at a time, each a subprocess with its own threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from bench.matrix.execute import Outcome, RunTask, execute_task
from bench.matrix.index import RunIndex


def launch_local(
    tasks: list[RunTask], jobs: int, on_tick: Callable[[], None], poll_s: float = 0.5
) -> list[Outcome]:
    """Execute ``tasks`` with ``jobs`` worker threads (one subprocess each); ``on_tick`` is
    called every ``poll_s`` seconds and after every finished run (to redraw the table)."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs!r}")
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(_execute_safely, task) for task in tasks]
        pending = set(futures)
        while pending:
            _, pending = wait_futures(pending, timeout=poll_s, return_when=FIRST_COMPLETED)
            on_tick()
    finally:  # on Ctrl-C: runs not started stay queued (the terminal's SIGINT stops the rest)
        pool.shutdown(wait=True, cancel_futures=True)
    return [f.result() for f in futures]


def _execute_safely(task: RunTask) -> Outcome:
    """execute_task, with any launcher error turned into a failed run (others go on)."""
    try:
        return execute_task(task)
    except Exception as exc:
        reason = f"launcher error: {type(exc).__name__}: {exc}"
        RunIndex(task.results).update(task.run_id, status="failed", failure=reason)
        return Outcome(task.run_id, "failed", reason)
