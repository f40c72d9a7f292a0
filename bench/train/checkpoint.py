"""Training checkpoints: atomic writes (temp file, fsync, rename: bench.io), newest-first
loading with fallback to the previous file when the newest is corrupt.

A process killed while writing leaves at most a hidden temp file (``.step-*.tmp``, never
loaded; removed by the next save) and the previous checkpoints intact."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from bench.io import write_bytes_atomic

_NAME = re.compile(r"step-(\d{9})\.pt")
_TEMP = re.compile(r"\.step-\d{9}\.pt\..*\.tmp")


def checkpoint_path(directory: str | Path, step: int) -> Path:
    return Path(directory) / f"step-{step:09d}.pt"


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (by step)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _NAME.fullmatch(p.name)]
    return sorted(found, key=lambda p: int(_NAME.fullmatch(p.name).group(1)))


def save_checkpoint(directory: str | Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as ``step-<step>.pt`` atomically, then delete all but the newest ``keep``
    and the temp files of interrupted writes (one writer per directory)."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep!r}")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path = write_bytes_atomic(checkpoint_path(directory, step), buffer.getvalue())
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    for stale in Path(directory).iterdir():
        if _TEMP.fullmatch(stale.name):
            stale.unlink(missing_ok=True)
    return path


def load_latest(directory: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """``(path, state)`` of the newest readable checkpoint, or None when there is none.

    A checkpoint that fails to load (truncated, corrupt) is skipped with a warning.
    """
    for path in reversed(list_checkpoints(directory)):
        try:
            return path, torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file falls back
            warnings.warn(
                f"{path}: unreadable checkpoint ({exc}); trying the previous one", stacklevel=2
            )
    return None
