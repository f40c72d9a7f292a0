"""The index of runs in a results directory: ``index.jsonl``, one JSON object per run.

Several writers (matrix processes, SLURM jobs, threads of the local launcher) may update it
at once. Every update is a read-modify-write of the whole file under an exclusive lock
(``fcntl.flock`` on ``index.lock`` plus a thread lock, since flock does not exclude
threads sharing a file description), written atomically (temp file + rename); readers
never need the lock and always see a complete file. So an entry is never lost and a run
id appears on exactly one line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import DataError
from bench.io import write_text_atomic

INDEX_FILE = "index.jsonl"
LOCK_FILE = "index.lock"
#: matrix-level states of a run (a record's own status is running|done|failed|interrupted)
STATES = ("queued", "running", "done", "failed", "interrupted")

_THREAD_LOCK = threading.Lock()


@dataclass
class IndexEntry:
    """The matrix's view of one run.

    Attributes:
        point: the GridPoint identity (backbone, method, dataset, seed, ...).
        config_sha256: sha256 of the run's resolved config.yaml, once it exists.
        failure: why the run failed (from its record, or the launcher's exit status).
        note: e.g. "skipped (done)", "resumed with --resume".
        job_id: the SLURM job id when launched through SLURM.
    """

    run_id: str
    status: str
    point: dict[str, Any] = field(default_factory=dict)
    config_sha256: str | None = None
    failure: str | None = None
    note: str | None = None
    launcher: str | None = None
    job_id: str | None = None
    updated_at: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATES:
            raise ValueError(f"index status must be one of {STATES}, got {self.status!r}")


class RunIndex:
    """``<results>/index.jsonl`` with locked, atomic updates."""

    def __init__(self, results_dir: str | Path):
        self.dir = Path(results_dir)
        self.path = self.dir / INDEX_FILE

    def read(self) -> dict[str, IndexEntry]:
        """run_id -> entry, in file order. No lock needed (the file is replaced atomically)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        entries = {}
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = IndexEntry(**json.loads(line))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise DataError(self.path, f"line {lineno}", f"not an index entry ({exc})") from exc
            entries[entry.run_id] = entry
        return entries

    def put(self, entries: Iterable[IndexEntry], keep: tuple[str, ...] = ()) -> None:
        """Insert or replace whole entries (one locked write for all of them), except entries
        whose current status is in ``keep`` (e.g. another worker's ``running`` run)."""
        entries = list(entries)
        with self._locked() as current:
            for entry in entries:
                old = current.get(entry.run_id)
                if old is None or old.status not in keep:
                    current[entry.run_id] = replace(entry, updated_at=_now())

    def update(self, run_id: str, **changes: Any) -> IndexEntry:
        """Change some fields of one entry (created with ``changes`` if absent)."""
        unknown = sorted(set(changes) - {f.name for f in fields(IndexEntry)})
        if unknown:
            raise ValueError(f"unknown index field(s) {unknown}")
        with self._locked() as current:
            old = current.get(run_id) or IndexEntry(run_id=run_id, status="queued")
            new = replace(old, **changes, updated_at=_now())
            current[run_id] = new
        return new

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, IndexEntry]]:
        """Hold the lock, yield the current entries, write them back atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with _THREAD_LOCK, open(self.dir / LOCK_FILE, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                current = self.read()
                yield current
                lines = [json.dumps(asdict(e), sort_keys=True) for e in current.values()]
                write_text_atomic(self.path, "".join(line + "\n" for line in lines))
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
