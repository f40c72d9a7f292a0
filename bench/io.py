"""Atomic file writes: a reader never sees a half-written file."""

from __future__ import annotations

import glob
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml


def _read_umask() -> int:
    """The process umask (read by setting it and setting it straight back: done once, at
    import, before any thread of ours writes files)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: file mode of everything written here: what ``open(path, "w")`` would give
FILE_MODE = 0o666 & ~_read_umask()


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file ``.<name>.*.tmp`` in the same folder, fsync
    and rename. The file gets the mode a plain ``open`` would give (0666 minus the umask),
    not the 0600 of a temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete the temp files that interrupted writes of ``path`` left (``.<name>.*.tmp``);
    call it only where one process writes ``path`` (a locked run directory)."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_yaml_atomic(path: str | Path, obj: Any) -> Path:
    return write_text_atomic(path, yaml.safe_dump(obj, sort_keys=False))
