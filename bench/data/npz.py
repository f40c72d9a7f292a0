"""Reading npz archives (MD17, rMD17) with one clear error per broken file or field."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from bench.errors import DataError


def load_npz(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """Arrays ``required + optional`` of an npz file (pickles refused).

    Raises:
        DataError: missing, empty, truncated or corrupt file; a required key absent.
    """
    if not path.is_file():
        raise DataError(path, None, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, None, "empty file")
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


def _read(f, path: Path, key: str) -> np.ndarray:
    try:
        return np.asarray(f[key])
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DataError(path, key, f"cannot read array ({exc})") from exc
