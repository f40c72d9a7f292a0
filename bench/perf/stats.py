"""Robust summaries of repeated timings: median, quartiles, extremes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def summarize(values: Sequence[float]) -> dict[str, float | int]:
    """``{"median", "q1", "q3", "iqr", "min", "max", "mean", "n"}`` of ``values``.

    Quartiles use numpy's default linear interpolation. Raises ValueError when empty.
    """
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        raise ValueError("cannot summarise an empty sequence")
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {
        "median": float(med),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "n": int(a.size),
    }


def blocks(n: int, repeats: int) -> list[range]:
    """``repeats`` consecutive index blocks covering ``range(n)``, sizes differing by <= 1.

    >>> blocks(5, 2)
    [range(0, 3), range(3, 5)]
    """
    if not 1 <= repeats <= n:
        raise ValueError(f"need 1 <= repeats <= n, got repeats={repeats!r}, n={n!r}")
    size, extra = divmod(n, repeats)
    out, start = [], 0
    for k in range(repeats):
        stop = start + size + (k < extra)
        out.append(range(start, stop))
        start = stop
    return out


def block_ratios(times: Sequence[float], baseline: Sequence[float], repeats: int) -> list[float]:
    """Per repeat (block of paired steps), ``sum(times) / sum(baseline)``.

    ``times[k]`` and ``baseline[k]`` are the two methods' k-th interleaved steps, so each ratio
    compares steps run side by side under the same machine load.
    """
    if len(times) != len(baseline):
        raise ValueError(f"unpaired step counts {len(times)} and {len(baseline)}")
    return [
        sum(times[i] for i in b) / sum(baseline[i] for i in b) for b in blocks(len(times), repeats)
    ]
