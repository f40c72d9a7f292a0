"""One process per run directory: an exclusive ``fcntl.flock`` on ``<run_dir>/run.lock``,
held for the life of the run.

``bench run`` takes it once its config and data are known good (so the run directory appears
only then) and keeps it until the record is final; another process that finds it held gets a
:class:`RunBusyError` (exit code 3) instead of training the same directory twice. The
kernel drops the lock when its holder exits, even on SIGKILL, so a stale lock file is
harmless. ``bench matrix`` workers look with :func:`is_locked` before launching a run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from bench.errors import BenchError, ConfigError

LOCK_FILE = "run.lock"
#: what ``bench run --resume`` prints (stderr) when it returns a finished run as it is; a
#: ``bench matrix`` worker that launched it then reports the run skipped, not done by itself
ALREADY_DONE = "already done, returned as is"


class RunBusyError(BenchError):
    """The run directory is locked by another process (it is training this run now)."""

    exit_code = 3


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Create ``run_dir`` if needed and hold its lock; yields the directory.

    Raises:
        RunBusyError: another process holds the lock.
        ConfigError: the directory cannot be created or written.
    """
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise ConfigError(f"{run_dir}: cannot write the run directory ({exc})") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunBusyError(
                f"{run_dir}: running in another process (its run.lock is held); not started twice"
            ) from exc
        yield run_dir
    finally:
        os.close(fd)  # releases the lock


def is_locked(run_dir: str | Path) -> bool:
    """True when a process holds ``run_dir``'s lock now (a probe: takes and drops it); False
    when there is no lock file to open (no run yet, or a path run_lock will refuse)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
