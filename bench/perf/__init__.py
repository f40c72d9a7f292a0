"""`bench perf`: training throughput, time split, peak memory and method overheads measured
side by side in one process, plus neighbour-list and data-loader throughput.

Each measurement becomes one JSON PerfRecord (bench.perf.record) under ``results/perf/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.perf.env import environment, load_average
from bench.perf.record import PerfRecord


def measure(
    component: str, run: Callable[[], dict[str, Any]], device: str, command: str = ""
) -> PerfRecord:
    """Run one measurement (``run()`` returns ``{"config", "results"}``, e.g.
    bench.perf.train.run_train_bench) and wrap it with the machine it ran on; the load
    average is recorded before (``load_avg_1m``) and after (``load_avg_1m_end``)."""
    env = environment(device)
    payload = run()
    env["hardware"]["load_avg_1m_end"] = load_average()
    return PerfRecord(
        component=component,
        config=payload["config"],
        results=payload["results"],
        command=command,
        **env,
    )


__all__ = ["PerfRecord", "measure"]
