"""Evaluations of imported runs: ``bench eval --run RUN --split S`` on a run directory that
``bench import`` wrote records what it measured in the run's ``metrics.json``; the status stays
``imported`` (the weights were not trained here) and the reports show these runs apart from
trained ones (bench.reports.released).

Recorded for an evaluated split ``S`` (a later evaluation of ``S`` replaces it):
    metrics[S], metrics["S/<sub-split>"]   as a trained run records them (bench.records)
    scale["evaluated"][S]                  evaluated_at (UTC, ISO 8601), dataset, data_root,
                                           path, max_structures, n_structures and sources
                                           (data file -> sha256) of the data evaluated on
The record is rewritten atomically under the run's lock (bench.run_lock).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.records import RECORD_FILE, read_record
from bench.run_lock import run_lock

#: a record status for runs that were imported, not trained here
IMPORTED = "imported"


def record_evaluation(
    run_dir: str | Path, split: str, results: dict[str, dict[str, float]], data: dict[str, Any]
) -> Path | None:
    """Store ``results`` (``{S: metrics, "S/<sub>": metrics}``, bench.eval.subsplit_metrics)
    and ``data`` (what was evaluated on) in the record of the imported run ``run_dir``.

    Returns the record's path, or None (nothing written) when the run is not imported.
    """
    with run_lock(run_dir):
        record = read_record(run_dir)
        if record.status != IMPORTED:
            return None
        kept = {
            k: v for k, v in record.metrics.items() if k != split and not k.startswith(f"{split}/")
        }
        record.metrics = kept | results
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        evaluated = dict(record.scale.get("evaluated") or {})
        evaluated[split] = {"evaluated_at": stamp, **data}
        record.scale = {**record.scale, "evaluated": evaluated}
        record.write(run_dir)
    return Path(run_dir) / RECORD_FILE
