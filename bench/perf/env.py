"""What a perf record cites about the machine: CPU model, threads, load, versions, git."""

from __future__ import annotations

import os
from typing import Any

import torch

from bench.train import provenance


def load_average() -> float | None:
    """The 1-minute load average (how busy the shared machine was), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def environment(device: str) -> dict[str, Any]:
    """``{"hardware", "versions", "git_revision"}`` for a record measured on ``device``."""
    hardware = provenance.hardware(device) | {
        "cpu_model": provenance.cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "load_avg_1m": load_average(),
    }
    return {
        "hardware": hardware,
        "versions": provenance.versions(),
        "git_revision": provenance.git_revision(),
    }
