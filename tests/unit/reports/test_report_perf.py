"""`bench report --perf`: one row per arm of every train record, ratios as recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.errors import DataError
from bench.perf.record import PerfRecord
from bench.reports.perf import load_perf_records, perf_frame, render_perf


def _method(step_s: float, params: int) -> dict:
    return {
        "step_time_s": {"median": step_s},
        "structures_per_s": 8 / step_s,
        "peak_memory_mb": 1234.4,
        "params": params,
    }


def _train_record() -> PerfRecord:
    ratio = {"median": 1.0312, "min": 0.9871, "max": 1.0733}
    return PerfRecord(
        component="train",
        config={
            "backbone": "equiformer",
            "preset": "paper",
            "dataset": "md17-aspirin",
            "batch_size": 8,
            "device": "cpu",
        },
        results={
            "methods": {"none": _method(3.7, 3496001), "dens": _method(3.8, 4000577)},
            "overhead": {"dens": {"ratio": ratio}},
            "flops": {"none": {"ratio": 1.0}, "dens": {"ratio": 1.01191}},
        },
        hardware={"torch_threads": 2},
    )


def test_rows_carry_each_arm_with_its_overhead_and_flop_ratio(tmp_path):
    _train_record().write(tmp_path / "train-a.json")
    PerfRecord(component="graph", config={}, results={}).write(tmp_path / "graph-b.json")
    frame = perf_frame(load_perf_records(tmp_path))
    assert sorted(frame["arm"]) == ["dens", "none"]  # the graph record has no arms
    dens = frame.set_index("arm").loc["dens"]
    assert (dens["record"], dens["threads"], dens["params"]) == ("train-a", 2, 4000577)
    assert frame.set_index("arm").loc["none", "vs_baseline"] == "baseline"
    assert dens["vs_baseline"] == "1.031 [0.987, 1.073]"
    assert dens["flops_ratio"] == "1.0119" and dens["s_per_step"] == "3.8"
    text = render_perf(tmp_path, "md")
    assert "| train-a" in text and "1.031 [0.987, 1.073]" in text
    assert render_perf(tmp_path, "csv").splitlines()[0].startswith("record,backbone,preset")


def test_a_malformed_record_is_named(tmp_path):
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(DataError, match="broken.json"):
        load_perf_records(tmp_path)


def _side(step_s: float, rss_mb: float) -> dict:
    return {"step_time_s": {"median": step_s}, "params": 455809, "peak_rss_mb": rss_mb}


def test_a_reference_record_gives_reference_and_ours_rows_with_the_ratio(tmp_path):
    ratio = {"median": 0.4567, "min": 0.4012, "max": 0.5123}
    PerfRecord(
        component="reference",
        config={
            "backbone": "schnet",
            "method": "none",
            "preset": "paper",
            "dataset": "md17",
            "batch_size": 32,
            "device": "cpu",
        },
        results={
            "sides": {"ref": _side(0.2, 1000.0), "ours": _side(0.09, 550.0)},
            "ratio": ratio,
            "peak_rss_ratio": 0.55,
        },
        hardware={"torch_threads": 2},
    ).write(tmp_path / "vs-reference-schnet.json")
    _train_record().write(tmp_path / "train-a.json")
    frame = perf_frame(load_perf_records(tmp_path)).set_index("arm")
    ours, ref = frame.loc["ours (none)"], frame.loc["reference"]
    assert ours["vs_reference"] == "0.457 [0.401, 0.512]" and ours["rss_vs_reference"] == "0.550"
    assert (ref["vs_reference"], ref["s_per_step"], ref["peak_mb"]) == ("reference", "0.2", 1000)
    assert ours["structures_per_s"] == f"{32 / 0.09:.3g}"
    assert pd.isna(frame.loc["dens", "vs_reference"])  # train arms have no reference
    assert "0.457 [0.401, 0.512]" in render_perf(tmp_path, "md")


def test_every_committed_perf_record_reads_and_reports():
    """results/perf of this repository: each JSON there is a perf record `bench report --perf`
    can show (other measurements live in its sub-folders)."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "results" / "perf"
    records = load_perf_records(folder)
    assert len(records) == len(list(folder.glob("*.json"))) > 0
    components = {record.component for _, record in records}
    assert {"train", "reference"} <= components
    assert "vs-reference-schnet" in render_perf(folder, "md")
