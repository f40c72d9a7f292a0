"""The perf records of a results folder as one table (``bench report --perf``).

One row per arm of every ``train`` record under ``<results>/perf``: what was measured (backbone,
preset, dataset, batch, threads, device), the step time and throughput, the overhead against
the record's baseline arm on the same interleaved steps (median and range over repeats), the
matrix-multiply FLOP ratio when counted, peak memory and parameters. Each ``reference`` record
(tools/refbench: the authors' code and ours interleaved) gives two rows, arms ``reference``
and ``ours``; the ``ours`` row's ``vs_reference`` is the step-time ratio ours/ref (median and
range over repeats) and ``rss_vs_reference`` the peak-RSS ratio. Ratios compare arms of one
record only; records taken at different times or loads are not compared with each other.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.perf.record import PerfRecord, read_perf_record

COLUMNS = (
    "record",
    "backbone",
    "preset",
    "dataset",
    "batch",
    "threads",
    "device",
    "arm",
    "s_per_step",
    "structures_per_s",
    "vs_baseline",
    "vs_reference",
    "rss_vs_reference",
    "flops_ratio",
    "peak_mb",
    "params",
)


def load_perf_records(folder: Path) -> list[tuple[Path, PerfRecord]]:
    """Every ``*.json`` perf record under ``folder``, sorted by file name (DataError for a
    malformed one, naming it)."""
    return [(p, read_perf_record(p)) for p in sorted(folder.glob("*.json"))]


def perf_frame(records: list[tuple[Path, PerfRecord]]) -> pd.DataFrame:
    """One row per arm of each train record, two per reference record (graph and loader
    records are skipped)."""
    rows = []
    for path, rec in records:
        if rec.component == "reference":
            rows += _reference_rows(path, rec)
        if rec.component != "train":
            continue
        res = rec.results
        for arm, m in res["methods"].items():
            over = res["overhead"].get(arm)
            flops = res.get("flops", {}).get(arm, {}).get("ratio")
            rows.append(
                _row_key(path, rec, arm)
                | {
                    "s_per_step": f"{m['step_time_s']['median']:.4g}",
                    "structures_per_s": f"{m['structures_per_s']:.3g}",
                    "vs_baseline": "baseline" if over is None else _range(over["ratio"]),
                    "flops_ratio": None if flops is None else f"{flops:.4f}",
                    "peak_mb": round(m["peak_memory_mb"]),
                    "params": m["params"],
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _row_key(path: Path, rec: PerfRecord, arm: str) -> dict:
    """The columns that say which record, configuration and arm a row is."""
    cfg = rec.config
    return {
        "record": path.stem,
        "backbone": cfg["backbone"],
        "preset": cfg["preset"],
        "dataset": cfg["dataset"],
        "batch": cfg["batch_size"],
        "threads": rec.hardware.get("torch_threads"),
        "device": cfg["device"],
        "arm": arm,
    }


def _range(ratio: dict) -> str:
    """``median [min, max]`` of a ratio summary (bench.perf.stats.summarize)."""
    return f"{ratio['median']:.3f} [{ratio['min']:.3f}, {ratio['max']:.3f}]"


def _reference_rows(path: Path, rec: PerfRecord) -> list[dict]:
    """The ``reference`` and ``ours`` rows of a tools/refbench record; peak memory is the
    per-side child-process RSS (None when not measured)."""
    res, cfg = rec.results, rec.config
    rows = []
    for arm, side in (("reference", "ref"), ("ours", "ours")):
        m = res["sides"][side]
        step = m["step_time_s"]["median"]
        ours = arm == "ours"
        rss = res.get("peak_rss_ratio")
        rows.append(
            _row_key(path, rec, arm if arm == "reference" else f"ours ({cfg['method']})")
            | {
                "s_per_step": f"{step:.4g}",
                "structures_per_s": f"{cfg['batch_size'] / step:.3g}",
                "vs_reference": _range(res["ratio"]) if ours else "reference",
                "rss_vs_reference": f"{rss:.3f}" if ours and rss is not None else None,
                "peak_mb": None if "peak_rss_mb" not in m else round(m["peak_rss_mb"]),
                "params": m["params"],
            }
        )
    return rows


def render_perf(folder: Path, fmt: str = "md") -> str:
    """The table of ``folder``'s train records in ``fmt`` (md, latex or csv)."""
    from bench.reports.formats import frame_text

    frame = perf_frame(load_perf_records(folder))
    return frame_text(frame, fmt, f"Training throughput ({len(frame)} arms, {folder})")
