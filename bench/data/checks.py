"""Input checks shared by the readers: each failure is one DataError naming file and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import DataError


def check_shape(arr: np.ndarray, shape: tuple[int | None, ...], path: str | Path, field: str):
    """Raise DataError unless ``arr.shape`` matches ``shape`` (None matches any length)."""
    ok = arr.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, arr.shape, strict=True)
    )
    if not ok:
        parts = ["*" if s is None else str(s) for s in shape]
        want = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        raise DataError(path, field, f"expected shape {want}, got {tuple(arr.shape)}")


def check_finite(arr: np.ndarray, path: str | Path, field: str) -> None:
    """Raise DataError if ``arr`` holds NaN or inf, naming the first bad entry."""
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(path, field, f"contains NaN or inf (first at index {first})")


def check_atomic_numbers(z: np.ndarray, path: str | Path, field: str) -> np.ndarray:
    """Atomic numbers as int64 in 1..118; raises DataError otherwise."""
    if z.size and (not np.all(np.isfinite(z)) or np.any(z != np.round(z))):
        raise DataError(path, field, "atomic numbers must be integers")
    zi = np.asarray(z).astype(np.int64)
    if zi.size and (zi.min() < 1 or zi.max() > 118):
        raise DataError(path, field, f"atomic numbers outside 1..118: {sorted(set(zi.tolist()))}")
    return zi
