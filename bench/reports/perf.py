"""The perf records of a results folder as one table (``bench report --perf``).

One row per arm of every ``train`` record under ``<results>/perf``: what was measured (backbone,
preset, dataset, batch, threads, device), the step time and throughput, the overhead against
the record's baseline arm on the same interleaved steps (median and range over repeats), the
matrix-multiply FLOP ratio when counted, peak memory and parameters. Ratios compare arms of one
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
    "flops_ratio",
    "peak_mb",
    "params",
)


def load_perf_records(folder: Path) -> list[tuple[Path, PerfRecord]]:
    """Every ``*.json`` perf record under ``folder``, sorted by file name (DataError for a
    malformed one, naming it)."""
    return [(p, read_perf_record(p)) for p in sorted(folder.glob("*.json"))]


def perf_frame(records: list[tuple[Path, PerfRecord]]) -> pd.DataFrame:
    """One row per arm of each train record (graph and loader records are skipped)."""
    rows = []
    for path, rec in records:
        if rec.component != "train":
            continue
        res, cfg = rec.results, rec.config
        for arm, m in res["methods"].items():
            over = res["overhead"].get(arm)
            ratio = (
                "baseline"
                if over is None
                else f"{over['ratio']['median']:.3f} [{over['ratio']['min']:.3f}, "
                f"{over['ratio']['max']:.3f}]"
            )
            flops = res.get("flops", {}).get(arm, {}).get("ratio")
            rows.append(
                {
                    "record": path.stem,
                    "backbone": cfg["backbone"],
                    "preset": cfg["preset"],
                    "dataset": cfg["dataset"],
                    "batch": cfg["batch_size"],
                    "threads": rec.hardware.get("torch_threads"),
                    "device": cfg["device"],
                    "arm": arm,
                    "s_per_step": f"{m['step_time_s']['median']:.4g}",
                    "structures_per_s": f"{m['structures_per_s']:.3g}",
                    "vs_baseline": ratio,
                    "flops_ratio": None if flops is None else f"{flops:.4f}",
                    "peak_mb": round(m["peak_memory_mb"]),
                    "params": m["params"],
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def render_perf(folder: Path, fmt: str = "md") -> str:
    """The table of ``folder``'s train records in ``fmt`` (md, latex or csv)."""
    from bench.reports.formats import frame_text

    frame = perf_frame(load_perf_records(folder))
    return frame_text(frame, fmt, f"Training throughput ({len(frame)} arms, {folder})")
