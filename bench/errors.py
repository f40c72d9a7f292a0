"""Errors that the CLI turns into one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path


class BenchError(Exception):
    """Any user-facing error of dens-bench (bad input, bad config, missing run)."""

    exit_code = 2


class DataError(BenchError):
    """Bad input data: names the file and, where known, the field.

    >>> str(DataError("x.npz", "forces", "contains NaN"))
    "x.npz: field 'forces': contains NaN"
    """

    def __init__(self, path: str | Path | None, field: str | None, message: str):
        self.path = None if path is None else str(path)
        self.field = field
        self.message = message
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if field is not None:
            parts.append(f"field {field!r}")
        parts.append(message)
        super().__init__(": ".join(parts))


class ConfigError(BenchError):
    """Bad configuration: unknown key, wrong type, unknown name."""
