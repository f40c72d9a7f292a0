"""Peak memory of one training step: resident set (CPU) or allocated device memory (CUDA).

On Linux the resident high-water mark (``VmHWM``) can be reset by writing ``5`` to
``/proc/self/clear_refs``, so each step's peak is measured on its own (scope ``"step"``).
Elsewhere only the process-lifetime peak (``ru_maxrss``) exists (scope ``"process"``).

Under glibc the resident peak of one step depends on heap history: the default mmap threshold
adapts to the sizes freed so far, and the same step's peak moved between 3.0 and 5.3 GB from
one run to the next (Equiformer, 8 aspirin). :func:`fix_allocator` pins the threshold first,
so each large tensor is its own mapping, returned when freed, and the peak follows the live
tensors (tools/refbench does the same for its children through ``MALLOC_MMAP_THRESHOLD_``).
"""

from __future__ import annotations

import ctypes
import resource
import sys
from pathlib import Path

import torch

#: glibc's mmap threshold (bytes) for measurements: blocks from 128 KiB up are mmapped
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> float | None:
    """``field`` (e.g. ``VmHWM``) of /proc/self/status in kB, or None when unavailable."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def fix_allocator() -> str:
    """Pin glibc's mmap threshold of this process to MMAP_THRESHOLD (see the module
    docstring); returns the allocator a record should name ("default ..." where there is no
    glibc ``mallopt`` or it refused)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return "default (no glibc mallopt)"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        return "default (mallopt refused)"
    return f"glibc, M_MMAP_THRESHOLD={MMAP_THRESHOLD}"


def current_rss_mb() -> float:
    """Resident memory of this process now (MB); the lifetime peak where /proc is missing."""
    kb = _status_kb("VmRSS")
    return kb / 1024.0 if kb is not None else _maxrss_mb()


def _maxrss_mb() -> float:
    scale = 1.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, kB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024.0


class PeakMemory:
    """Per-step peak memory on ``device`` ("cpu" or "cuda"), in MB.

    ``reset()`` before a step, ``peak_mb()`` after it. ``scope`` says what the number covers:
    ``"step"`` (reset worked) or ``"process"`` (lifetime peak of the process).
    """

    def __init__(self, device: str) -> None:
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        self.device = device
        self.scope = "step" if device == "cuda" or self._can_reset() else "process"

    @staticmethod
    def _can_reset() -> bool:
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            return False
        return _status_kb("VmHWM") is not None

    def reset(self) -> None:
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        elif self.scope == "step":
            _CLEAR_REFS.write_text("5")

    def peak_mb(self) -> float:
        if self.device == "cuda":
            return torch.cuda.max_memory_allocated() / 2**20
        if self.scope == "step":
            return _status_kb("VmHWM") / 1024.0
        return _maxrss_mb()

    def current_mb(self) -> float:
        """Memory in use now: allocated CUDA memory, or the resident set on CPU."""
        if self.device == "cuda":
            return torch.cuda.memory_allocated() / 2**20
        return current_rss_mb()
