"""PerfRecord: atomic write, strict read, default file names; the text summary."""

from __future__ import annotations

import json

import pytest

from bench.errors import DataError
from bench.perf.format import summary_lines
from bench.perf.record import PerfRecord, read_perf_record


def _record(**kw) -> PerfRecord:
    results = {
        "molecule": {
            "dataset": "md17-aspirin",
            "cutoff": 5.0,
            "max_neighbors": None,
            "structures_per_s": 10.0,
            "edges_per_s": 200.0,
            "edges_per_atom": 14.5,
        }
    }
    return PerfRecord(
        component="graph",
        config={"dataset": "md17-aspirin"},
        results=results,
        created_at="2026-01-02T03:04:05+00:00",
        **kw,
    )


def test_round_trip_and_default_name(tmp_path, monkeypatch):
    record = _record(versions={"torch": "x"}, git_revision="abc")
    path = record.write(tmp_path / "sub" / "r.json")
    assert read_perf_record(path) == record
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files
    assert record.default_name() == "graph-md17-aspirin-20260102T030405.json"
    monkeypatch.chdir(tmp_path)
    default = record.write()
    assert default == tmp_path / "results" / "perf" / record.default_name()
    assert default.is_file()


def test_bad_records_are_rejected_with_the_file_named(tmp_path):
    with pytest.raises(ValueError, match="'trian'"):
        PerfRecord(component="trian", config={}, results={})
    path = tmp_path / "bad.json"
    data = _record().to_dict()
    path.write_text(json.dumps(data | {"extra": 1}))
    with pytest.raises(DataError, match="bad.json.*extra"):
        read_perf_record(path)
    path.write_text(json.dumps(data | {"schema": 99}))
    with pytest.raises(DataError, match="schema"):
        read_perf_record(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a perf record"):
        read_perf_record(path)


def test_summary_lines_quote_the_record():
    (line,) = summary_lines(_record())
    assert line.startswith("molecule (md17-aspirin, cutoff 5.0 A, cap None): 10 structures/s")
    assert "14.5 edges/atom" in line


def test_train_summary_lists_the_profiled_ops_of_each_arm():
    arm = {
        "structures_per_s": 2.0,
        "atoms_per_s": 42.0,
        "step_time_s": {"median": 4.0, "iqr": 0.1},
        "data_graph_share": 0.01,
        "peak_memory_mb": 600.0,
        "params": 455809,
    }
    ops = [
        {"name": "aten::mm", "calls": 162, "self_ms": 38.25, "total_ms": 40.0},
        {"name": "aten::index_add_", "calls": 23, "self_ms": 9.0, "total_ms": 9.5},
    ]
    results = {"methods": {"none": arm}, "overhead": {}, "profile": {"none": ops}}
    lines = summary_lines(PerfRecord(component="train", config={}, results=results))
    assert lines[-1] == (
        "none profile (one step, self time): aten::mm 38.2 ms x162; aten::index_add_ 9.0 ms x23"
    )
