"""What a run record cites: git revision, library versions, hardware, peak memory."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

import bench

_REPO = Path(__file__).resolve().parents[2]


def git_revision() -> str | None:
    """``HEAD`` of the source tree (``+dirty`` when tracked files differ), or None."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(_REPO), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def versions() -> dict[str, str]:
    """Versions of python, torch, e3nn, torch_geometric and bench (without importing e3nn)."""

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "e3nn": installed("e3nn"),
        "torch_geometric": installed("torch_geometric"),
        "bench": bench.__version__,
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: str) -> dict[str, object]:
    """CPU model, core and thread counts, the device used and, on CUDA, the GPU name."""
    info: dict[str, object] = {
        "device": device,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": sys.platform,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def peak_memory_mb(device: str) -> float:
    """Peak resident memory of this process (CPU, MB) or peak allocated CUDA memory (MB)."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
