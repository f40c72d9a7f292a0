"""File checksums recorded as provenance (SplitData.sources) and by the cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_files(paths: list[Path]) -> dict[str, str]:
    """``{str(path): sha256}`` for each file, in the given order."""
    return {str(p): sha256_file(p) for p in paths}
