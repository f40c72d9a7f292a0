"""File checksums recorded as provenance (SplitData.sources) and by the cache.

Hashing S2EF-2M (tens of GB) takes minutes, so :func:`sha256_files` keeps the checksums it
computed in ``$XDG_CACHE_HOME/dens-bench/sha256.json`` (default ``~/.cache/dens-bench``),
keyed by absolute path and valid while the file's size and ``st_mtime_ns`` are unchanged: an
unchanged shard is never hashed twice. The cache is only a cache: an unreadable one is
ignored (and rewritten), and a file that changed is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bench.io import write_text_atomic

_CHUNK = 1 << 20
#: file name of the checksum cache under the user cache folder
CACHE_FILE = "sha256.json"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_files(paths: list[Path]) -> dict[str, str]:
    """``{str(path): sha256}`` for each file, in the given order; files whose (size,
    mtime_ns) match the cache entry are not read."""
    cache = _read_cache()
    out, changed = {}, False
    for p in paths:
        st = os.stat(p)
        key, stamp = str(Path(p).absolute()), [st.st_size, st.st_mtime_ns]
        hit = cache.get(key)
        if not (isinstance(hit, dict) and hit.get("stamp") == stamp):
            cache[key], changed = {"stamp": stamp, "sha256": sha256_file(p)}, True
        out[str(p)] = cache[key]["sha256"]
    if changed:
        _write_cache(cache)
    return out


def cache_path() -> Path:
    """``$XDG_CACHE_HOME/dens-bench/sha256.json`` (``~/.cache`` when the variable is unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "dens-bench" / CACHE_FILE


def _read_cache() -> dict:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):  # absent, unreadable or garbled: start afresh
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(cache: dict) -> None:
    try:
        write_text_atomic(cache_path(), json.dumps(cache, indent=0, sort_keys=True))
    except OSError:  # a read-only home must not stop a run; the next one hashes again
        pass
