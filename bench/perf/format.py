"""One-line-per-item text summaries of perf records (what `bench perf` prints)."""

from __future__ import annotations

from bench.perf.record import PerfRecord


def summary_lines(record: PerfRecord) -> list[str]:
    """Human-readable lines for ``record`` (all numbers come from ``record.results``)."""
    return {"train": _train, "graph": _graph, "loader": _loader}[record.component](record)


def _train(record: PerfRecord) -> list[str]:
    res = record.results
    lines = []
    for name, m in res["methods"].items():
        t = m["step_time_s"]
        lines.append(
            f"{name}: {m['structures_per_s']:.3g} structures/s, {m['atoms_per_s']:.4g} atoms/s, "
            f"step {t['median']:.4g} s (IQR {t['iqr']:.2g}), data+graph "
            f"{100 * m['data_graph_share']:.1f}%, peak {m['peak_memory_mb']:.0f} MB, "
            f"{m['params']:,} params"
        )
    for name, o in res["overhead"].items():
        r = o["ratio"]
        lines.append(
            f"{name} vs {res['baseline']}: x{r['median']:.3f} (median of {r['n']} repeats; "
            f"min {r['min']:.3f}, max {r['max']:.3f})"
        )
    for name, f in res.get("flops", {}).items():
        lines.append(f"{name}: {f['per_step']:.4g} matmul FLOPs/step (x{f['ratio']:.4f})")
    for name, effect in res.get("switches", {}).items():
        r = effect["ratio"]
        lines.append(
            f"{name} vs {effect['method']}: x{r['median']:.3f} (median of {r['n']} repeats; "
            f"min {r['min']:.3f}, max {r['max']:.3f})"
        )
    for name, ops in res.get("profile", {}).items():
        lines.append(f"{name} profile (one step, self time): " + _ops(ops))
    return lines


def _ops(ops: list[dict]) -> str:
    """``name self_ms ms xcalls`` of each profiled operator, costliest first."""
    return "; ".join(f"{op['name']} {op['self_ms']:.1f} ms x{op['calls']}" for op in ops)


def _graph(record: PerfRecord) -> list[str]:
    return [
        f"{kind} ({r['dataset']}, cutoff {r['cutoff']} A, cap {r['max_neighbors']}): "
        f"{r['structures_per_s']:.4g} structures/s, {r['edges_per_s']:.4g} edges/s, "
        f"{r['edges_per_atom']:.1f} edges/atom"
        for kind, r in record.results.items()
    ]


def _loader(record: PerfRecord) -> list[str]:
    return [
        f"{w} workers: {r['structures_per_s']:.4g} structures/s, startup {r['startup_s']:.3g} s"
        for w, r in record.results["by_workers"].items()
    ]
