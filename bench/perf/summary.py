"""Per-method throughput, phase split and overhead ratios from per-step timing samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.perf.clock import PHASES
from bench.perf.stats import block_ratios, blocks, summarize


def summarize_method(steps: Sequence[dict[str, float]], repeats: int) -> dict[str, Any]:
    """Throughput and time split of one method's timed steps (StepProbe samples).

    Returns ``step_time_s`` (summary of per-step wall time, s), ``structures_per_s`` and
    ``atoms_per_s`` (totals over all timed steps), ``structures_per_s_repeats`` (summary over
    the ``repeats`` blocks), ``phase_median_s`` and ``phase_share`` (fraction of the summed
    step time), and ``data_graph_share`` (data + graph share).
    """
    total = [s["total"] for s in steps]
    time_sum = sum(total)
    per_block = [
        sum(steps[i]["structures"] for i in b) / sum(total[i] for i in b)
        for b in blocks(len(steps), repeats)
    ]
    share = {p: sum(s[p] for s in steps) / time_sum for p in PHASES}
    return {
        "steps": len(steps),
        "step_time_s": summarize(total),
        "structures_per_s": sum(s["structures"] for s in steps) / time_sum,
        "atoms_per_s": sum(s["atoms"] for s in steps) / time_sum,
        "structures_per_s_repeats": summarize(per_block),
        "phase_median_s": {p: summarize([s[p] for s in steps])["median"] for p in PHASES},
        "phase_share": share,
        "data_graph_share": share["data"] + share["graph"],
    }


def summarize_methods(
    samples: dict[str, list[dict[str, float]]], baseline: str, repeats: int
) -> dict[str, Any]:
    """``{"baseline", "methods": {name: summarize_method}, "overhead": {name: ...}}``.

    ``overhead[name]``: ``ratio`` (summary over repeats of time(name) / time(baseline) on the
    same interleaved steps; 1.05 = 5 % slower), ``per_repeat`` (those ratios) and
    ``median_step_ratio`` (ratio of the per-step medians).
    """
    if baseline not in samples:
        raise ValueError(f"baseline {baseline!r} is not among the methods {sorted(samples)}")
    base = [s["total"] for s in samples[baseline]]
    overhead = {}
    for name, steps in samples.items():
        if name == baseline:
            continue
        times = [s["total"] for s in steps]
        ratios = block_ratios(times, base, repeats)
        overhead[name] = {
            "ratio": summarize(ratios),
            "per_repeat": ratios,
            "median_step_ratio": summarize(times)["median"] / summarize(base)["median"],
        }
    return {
        "baseline": baseline,
        "methods": {name: summarize_method(steps, repeats) for name, steps in samples.items()},
        "overhead": overhead,
    }


def switch_effects(
    samples: dict[str, list[dict[str, float]]],
    arms: dict[str, tuple[str, tuple[str, ...]]],
    repeats: int,
) -> dict[str, Any]:
    """For every arm with switches on (``{arm: (method, switches)}``, as
    bench.perf.train.TrainBenchOptions.arms gives), the effect of those switches:
    ``{"method", "switches", "ratio": summary over repeats of time(arm) / time(method with no
    switch) on the same interleaved steps (0.8 = 20 % faster), "per_repeat"}``."""
    out = {}
    for arm, (method, switches) in arms.items():
        if not switches:
            continue
        ratios = block_ratios(
            [s["total"] for s in samples[arm]], [s["total"] for s in samples[method]], repeats
        )
        out[arm] = {
            "method": method,
            "switches": list(switches),
            "ratio": summarize(ratios),
            "per_repeat": ratios,
        }
    return out
