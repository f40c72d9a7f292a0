"""Reading npz archives (MD17, rMD17) with one clear error per broken file or field."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from bench.errors import DataError

#: (leading bytes, what the file is) of common files that are not npz archives
_NOT_NPZ = (
    (b"\x93NUMPY", "a single .npy array (save it with numpy.savez to get an npz)"),
    (b"\x80", "a Python pickle (refused, never unpickled)"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"SQLite format 3", "an SQLite database"),
)


def load_npz(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """Arrays ``required + optional`` of an npz file (pickles refused).

    Raises:
        DataError: missing, empty, truncated or corrupt file, or not a zip archive at all
            (the message says what it is); a required key absent; an object array.
    """
    if not path.is_file():
        raise DataError(path, None, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, None, "empty file")
    _check_is_zip(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            for key in required:
                if key not in keys:
                    raise DataError(path, key, f"missing key (file has {sorted(keys)})")
            return {k: _read(f, path, k) for k in (*required, *optional) if k in keys}
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DataError(path, None, f"not a readable npz archive ({exc})") from exc


def _check_is_zip(path: Path) -> None:
    """An npz is a zip archive; say what the file is instead (numpy's own errors would
    suggest ``allow_pickle=True``, which runs code from the file)."""
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(b"PK"):
        return
    for magic, what in _NOT_NPZ:
        if head.startswith(magic):
            raise DataError(path, None, f"not a readable npz archive: the file is {what}")
    raise DataError(path, None, f"not a readable npz archive (no zip header; starts {head!r})")


def _read(f, path: Path, key: str) -> np.ndarray:
    try:
        return np.asarray(f[key])
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            msg = "holds pickled Python objects (an object array); refused, never unpickled"
            raise DataError(path, key, msg) from exc
        raise DataError(path, key, f"cannot read array ({exc})") from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(path, key, f"cannot read array ({exc})") from exc
