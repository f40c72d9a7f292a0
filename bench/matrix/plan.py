"""What to do with each run of a matrix given what its results directory already holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError
from bench.matrix.resolve import without_location
from bench.records import CHECKPOINT_DIR, CONFIG_FILE, read_record

ACTIONS = ("skip", "resume", "fresh", "replace")


@dataclass(frozen=True)
class Decision:
    """``skip`` a finished run, ``resume`` an unfinished one, start it ``fresh``, or
    ``replace`` a run of another config (its directory is set aside, then fresh)."""

    action: str
    reason: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")


def decide(run_dir: str | Path, expected_config: dict[str, Any] | None = None) -> Decision:
    """Decide from the run directory alone.

    ``expected_config`` (location keys removed, see bench.matrix.resolve) is the resolved
    config the run should have; None trusts any config. A run whose config.yaml holds
    another config is replaced (its directory set aside, the run started afresh). Otherwise a
    ``done`` run is skipped; a run with a record that is not done (running, failed,
    killed) or with checkpoints resumes (``bench run --resume`` continues from the newest
    checkpoint, or restarts when there is none); anything else starts fresh.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return Decision("fresh", "no run directory")
    stored = stored_config(run_dir)
    if expected_config is not None and stored is not None:
        if without_location(stored) != expected_config:
            return Decision("replace", "its run directory holds a different resolved config")
    try:
        status = read_record(run_dir).status
    except BenchError:
        status = None
    if status == "done":
        return Decision("skip", "already finished")
    checkpoints = "with checkpoints" if has_checkpoint(run_dir) else "no checkpoint yet"
    if status is not None or has_checkpoint(run_dir):
        return Decision("resume", f"unfinished ({status or 'no record'}, {checkpoints})")
    return Decision("fresh", "no run record")


def has_checkpoint(run_dir: Path) -> bool:
    """True when ``run_dir/checkpoints/`` holds at least one file."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def stored_config(run_dir: Path) -> dict[str, Any] | None:
    """The resolved config a run wrote (config.yaml), None when absent or unreadable."""
    try:
        return yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text())
    except (FileNotFoundError, yaml.YAMLError):
        return None
