"""Execute one run as a subprocess and record its outcome in the index.

Used by every launcher: the local launcher calls it from worker threads, a SLURM job
calls it on the compute node. It never raises for a failing run: the failure (the run
record's own reason, else the command's last error line and exit status) goes into the
index and the Outcome, so the rest of the matrix goes on.

Several matrices may share a results folder: a run that is done, or whose run.lock another
process holds (bench.run_lock), is skipped (``skipped (done)``, ``skipped (running
elsewhere)``), also when its ``bench run`` finds the lock taken at start (exit code 3).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import BenchError
from bench.matrix.index import RunIndex
from bench.records import CONFIG_FILE, read_record
from bench.run_lock import ALREADY_DONE, RunBusyError, is_locked

#: launcher bookkeeping inside a results directory (logs, submitit folders)
MATRIX_DIR = ".matrix"
#: environment variables that carry a run's CPU thread budget
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
SKIP_DONE = "skipped (done)"
SKIP_ELSEWHERE = "skipped (running elsewhere)"


@dataclass(frozen=True)
class RunTask:
    """One run to execute: its full command line and where its results go."""

    run_id: str
    argv: tuple[str, ...]
    results: str
    threads: int = 1
    resume: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return Path(self.results) / self.run_id

    @property
    def log_path(self) -> Path:
        return Path(self.results) / MATRIX_DIR / "logs" / f"{self.run_id}.log"


@dataclass(frozen=True)
class Outcome:
    """How a run ended: status "done", "failed" or "interrupted" (with a one-line reason), or
    "skipped" (reason SKIP_DONE or SKIP_ELSEWHERE)."""

    run_id: str
    status: str
    failure: str | None = None
    returncode: int | None = None


def task_env(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the run's thread budget (torch reads
    OMP_NUM_THREADS at start-up to size its intra-op pool)."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    env = dict(os.environ)
    env.update({var: str(threads) for var in THREAD_VARS})
    env.update(extra or {})
    return env


def execute_task(task: RunTask) -> Outcome:
    """Run ``task.argv``, append its output to ``task.log_path``, record the outcome; skip a
    run that is done or running elsewhere (the index keeps its owner's state)."""
    index = RunIndex(task.results)
    skipped = skip_reason(task.run_dir)
    if skipped == SKIP_DONE:
        index.update(task.run_id, status="done", failure=None, note=SKIP_DONE)
    if skipped is not None:
        return Outcome(task.run_id, "skipped", skipped)
    note = "resumed with --resume" if task.resume else None
    index.update(task.run_id, status="running", failure=None, note=note)
    task.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(task.log_path, "a") as log:
        log.write(f"$ {' '.join(task.argv)}\n")
        log.flush()
        try:
            proc = subprocess.run(
                task.argv,
                env=task_env(task.threads, task.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
            returncode = proc.returncode
        except OSError as exc:
            returncode, start_error = None, f"could not start: {exc}"
        else:
            start_error = None
    outcome = judge(task, returncode, start_error)
    if outcome.failure == SKIP_DONE:
        index.update(task.run_id, status="done", failure=None, note=SKIP_DONE)
    elif outcome.status != "skipped":
        index.update(
            task.run_id,
            status=outcome.status,
            failure=outcome.failure,
            config_sha256=config_sha256(task.run_dir),
        )
    return outcome


def skip_reason(run_dir: Path) -> str | None:
    """SKIP_ELSEWHERE when another process holds the run's lock, SKIP_DONE when its record
    is done, else None. The lock is looked at first: a run whose owner finishes between the
    two looks is then still skipped (done), never launched again."""
    if is_locked(run_dir):
        return SKIP_ELSEWHERE
    try:
        if read_record(run_dir).status == "done":
            return SKIP_DONE
    except BenchError:
        pass
    return None


def judge(task: RunTask, returncode: int | None, start_error: str | None = None) -> Outcome:
    """Decide done/failed/interrupted (or skipped: the run was locked when it started) from
    the exit status, the run record and the log."""
    if start_error is not None:
        return Outcome(task.run_id, "failed", start_error, returncode)
    if returncode == RunBusyError.exit_code:
        return Outcome(task.run_id, "skipped", SKIP_ELSEWHERE, returncode)
    try:
        record = read_record(task.run_dir)
    except BenchError:
        record = None
    if returncode == 0 and record is not None and record.status == "done":
        if ALREADY_DONE in _this_attempt(task.log_path):
            return Outcome(task.run_id, "skipped", SKIP_DONE, 0)  # another process finished it
        return Outcome(task.run_id, "done", None, 0)
    if record is not None and record.status in ("failed", "interrupted") and record.failure:
        return Outcome(task.run_id, record.status, record.failure, returncode)
    reason = exit_reason(returncode, task.log_path, record)
    return Outcome(task.run_id, "failed", reason, returncode)


def _this_attempt(log_path: Path) -> str:
    """The output of the last attempt in the run's matrix log (after its last ``$ `` line)."""
    text = _log_tail(log_path)
    start = text.rfind("\n$ ")
    return text[start + 1 :] if start >= 0 else text


def _log_tail(log_path: Path, tail_bytes: int = 8192) -> str:
    """The last ``tail_bytes`` of a run's matrix log ("" when there is none)."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - tail_bytes))
            return fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def exit_reason(returncode: int | None, log_path: Path, record) -> str:
    """A one-line reason for a run that did not finish cleanly."""
    if returncode is not None and returncode < 0:
        status = f"killed by {signal.Signals(-returncode).name}"
    elif returncode == 0:
        state = "no run record" if record is None else f"record status {record.status!r}"
        status = f"exited 0 but {state}"
    else:
        status = f"exit code {returncode}"
    detail = last_error_line(log_path)
    return f"{status}: {detail}" if detail else status


def last_error_line(log_path: Path, tail_bytes: int = 8192) -> str | None:
    """The last line of the log starting with "error" (case-insensitive), else its last
    non-empty line (a traceback's exception message); None for an empty log."""
    lines = _log_tail(log_path, tail_bytes).splitlines()
    lines = [line.strip() for line in lines if line.strip() and not line.startswith("$ ")]
    for line in reversed(lines):
        if line.lower().startswith("error"):
            return line[:300]
    return lines[-1][:300] if lines else None


def config_sha256(run_dir: Path) -> str | None:
    """sha256 of ``run_dir/config.yaml`` (the run's resolved config), None if absent."""
    try:
        return hashlib.sha256((run_dir / CONFIG_FILE).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
