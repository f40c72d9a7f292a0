"""The typed result record of one run, and where its files live.

A run directory ``<results>/<run_id>/`` holds:
    config.yaml     the fully resolved RunConfig (as a plain dict)
    metrics.json    this RunRecord (status, provenance, metrics); written atomically,
                    ``status == "done"`` only once the run finished, ``interrupted`` after
                    SIGTERM/SIGINT, ``failed`` with the reason
    run.lock        held (fcntl.flock) by the process training the run (bench.run_lock)
    command.txt     the exact command line
    log.jsonl       one JSON object per logging step
    checkpoints/    training checkpoints (never committed): step-*.pt, model.pt (final
                    evaluation weights), best.pt (lowest validation force MAE)
    predictions.npz the latest ``bench eval`` predictions (bench.eval_file)
Tables and plots are derived from records and bench/paper_tables/ only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import DataError
from bench.io import write_json_atomic

RECORD_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"
LOG_FILE = "log.jsonl"
COMMAND_FILE = "command.txt"
CHECKPOINT_DIR = "checkpoints"
PREDICTIONS_FILE = "predictions.npz"
STATUSES = ("running", "done", "failed", "interrupted", "imported")  # imported: bench import

# Metric names inside ``metrics[split]`` (units in the name):
#   energy_mae_mev, force_mae_mev_per_a, force_cos, force_magnitude_mae_mev_per_a, efwt,
#   n_structures; OC20 adds per-sub-split dicts under ``metrics[split + "/" + subsplit]``.


@dataclass
class RunRecord:
    """Everything needed to cite a run: what ran, on what, and what it measured."""

    run_id: str
    status: str  # one of STATUSES
    config: dict[str, Any]  # resolved config (same content as config.yaml)
    seed: int
    command: str = ""
    failure: str | None = None  # e.g. "non-finite loss at step 12", "interrupted by SIGTERM ..."
    git_revision: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # torch, e3nn, python, bench
    hardware: dict[str, Any] = field(default_factory=dict)  # cpu, threads, gpu, device
    params: int | None = None
    wall_time_s: float | None = None  # training wall time (excludes evaluation)
    samples_per_s: float | None = None
    peak_memory_mb: float | None = None
    steps: int | None = None
    epochs: float | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # split -> name -> value
    # preset, n_train, epochs, paper_scale, network_overrides (bench.train.run)
    scale: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> RunRecord:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise DataError(source, unknown[0], "unknown field in run record")
        for key in ("run_id", "status", "config", "seed"):
            if key not in d:
                raise DataError(source, key, "missing field in run record")
        if d["status"] not in STATUSES:
            raise DataError(source, "status", f"must be one of {STATUSES}, got {d['status']!r}")
        return cls(**{**d, "config": upgrade_config(d["config"])})

    def write(self, run_dir: str | Path) -> Path:
        return write_json_atomic(Path(run_dir) / RECORD_FILE, self.to_dict())


#: recorded config keys renamed by the one glossary (bench.config docstring): (section,
#: old key) -> new key, in ``loss`` and ``method.params``
RENAMED_KEYS = {
    ("loss", "energy_weight"): "lambda_energy",
    ("loss", "force_weight"): "lambda_force",
    ("params", "lambda_noise"): "lambda_dens",
    ("params", "lambda_noise_final"): "lambda_dens_final",
}


def upgrade_config(config: Any) -> Any:
    """A recorded config (``config.yaml``, ``run.json``'s ``config``) with the names of
    records written before the glossary renamed (RENAMED_KEYS); anything else unchanged.
    Records only: the same old names in a user's YAML are an error."""
    if not isinstance(config, dict):
        return config
    out = dict(config)
    if isinstance(out.get("method"), dict):
        out["method"] = dict(out["method"])
    sections = {"loss": out, "params": out.get("method")}
    for (section, old), new in RENAMED_KEYS.items():
        parent = sections[section]
        if not isinstance(parent, dict) or not isinstance(parent.get(section), dict):
            continue
        block = parent[section] = dict(parent[section])
        if old in block and new not in block:
            block[new] = block.pop(old)
    return out


def read_record(run_dir: str | Path) -> RunRecord:
    path = Path(run_dir) / RECORD_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DataError(path, None, "no run record (is this a run directory?)") from exc
    except json.JSONDecodeError as exc:
        raise DataError(path, None, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(path, None, "not a text file") from exc
    if not isinstance(data, dict):
        raise DataError(path, None, f"expected a JSON object, got {type(data).__name__}")
    return RunRecord.from_dict(data, str(path))


def iter_records(
    results_dir: str | Path,
    status: str | None = "done",
    on_unreadable: Callable[[DataError], None] | None = None,
):
    """Yield (run_dir, record) for every run directory under ``results_dir`` (recursively).

    An unreadable record raises its DataError, or with ``on_unreadable`` is passed to it
    and skipped (one corrupt run does not hide the others from a report).
    """
    for path in sorted(Path(results_dir).rglob(RECORD_FILE)):
        try:
            rec = read_record(path.parent)
        except DataError as exc:
            if on_unreadable is None:
                raise
            on_unreadable(exc)
            continue
        if status is None or rec.status == status:
            yield path.parent, rec
