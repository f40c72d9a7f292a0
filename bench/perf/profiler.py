"""The most expensive operators of one call, measured with torch.profiler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.profiler import ProfilerActivity, profile


def top_ops(run: Callable[[], Any], k: int, device: str = "cpu") -> list[dict[str, Any]]:
    """Profile ``run()``; the ``k`` operators with the largest self CPU time (self CUDA time on
    cuda), each ``{"name", "calls", "self_ms", "total_ms"}`` (milliseconds)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    activities = [ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        run()
    events = prof.key_averages()
    attr = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    total = "device_time_total" if device == "cuda" else "cpu_time_total"
    rows = sorted(events, key=lambda e: getattr(e, attr), reverse=True)[:k]
    return [
        {
            "name": e.key,
            "calls": int(e.count),
            "self_ms": getattr(e, attr) / 1e3,
            "total_ms": getattr(e, total) / 1e3,
        }
        for e in rows
    ]
