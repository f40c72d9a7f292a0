"""`bench perf` as a subprocess on the shipped subsets: well-formed records, no timing checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from bench.perf.record import read_perf_record

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).resolve().parents[1] / "data"


def _bench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*BENCH, "perf", "--threads", "1", "--data-root", str(DATA), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=cwd,
    )


def test_train_component_writes_a_record_for_each_method(tmp_path):
    proc = _bench(
        "--backbone",
        "schnet",
        "--methods",
        "none,dens",
        "--preset",
        "ci",
        "--batch-size",
        "2",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--repeats",
        "2",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    path = Path(lines[-1])
    assert path.parent == tmp_path / "results" / "perf" and path.name.startswith("train-schnet")
    assert any(line.startswith("dens vs none: x") for line in lines)
    record = read_perf_record(path)
    assert record.component == "train" and record.config["preset"] == "ci"
    assert record.config["methods"] == ["none", "dens"] and "--steps 2" in record.command
    for name in ("none", "dens"):
        m = record.results["methods"][name]
        assert m["steps"] == 2 and m["structures_per_s"] > 0 and m["atoms_per_s"] > 0
        assert m["peak_memory_mb"] > 0 and m["params"] > 0
        assert set(m["phase_share"]) == {
            "data",
            "corrupt",
            "graph",
            "forward",
            "backward",
            "optimizer",
            "other",
        }
    assert record.results["overhead"]["dens"]["ratio"]["n"] == 2
    assert record.hardware["torch_threads"] == 1 and record.hardware["cpu_model"]
    assert record.versions["torch"] and record.versions["e3nn"] and record.versions["python"]


def test_compile_and_amp_arms_and_flop_counts_of_a_direct_force_backbone(tmp_path):
    """eSCN (ci) on one OC20 frame per step: every method with torch.compile and bf16
    autocast on and off, matmul FLOPs counted; the warm-up covers compilation."""
    out = tmp_path / "c.json"
    proc = _bench(
        "--backbone",
        "escn",
        "--dataset",
        "oc20-relax",
        "--batch-size",
        "1",
        "--compile",
        "--amp",
        "--flop-steps",
        "1",
        "--steps",
        "1",
        "--warmup",
        "2",
        "--repeats",
        "1",
        "--output",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    record = read_perf_record(out)
    arms = {
        "none",
        "dens",
        "none+amp",
        "dens+amp",
        "none+compile",
        "dens+compile",
        "none+amp+compile",
        "dens+amp+compile",
    }
    assert set(record.results["methods"]) == arms == set(record.results["flops"])
    assert set(record.results["switches"]) == arms - {"none", "dens"}
    assert record.results["switches"]["dens+amp+compile"]["method"] == "dens"
    assert record.results["flops"]["none"]["ratio"] == 1.0
    assert "dens+compile vs dens: x" in proc.stdout


def test_graph_and_loader_components_and_json(tmp_path):
    out = tmp_path / "g.json"
    proc = _bench(
        "--component",
        "graph",
        "--repeats",
        "1",
        "--max-structures",
        "4",
        "--supercell",
        "2,1,1",
        "--output",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == read_perf_record(out).to_dict()
    results = json.loads(proc.stdout)["results"]
    assert set(results) == {"molecule", "periodic"} and results["periodic"]["atoms"] == 8 * 49
    proc = _bench(
        "--component",
        "loader",
        "--dataset",
        "oc20-relax",
        "--workers",
        "0,1",
        "--batch-size",
        "2",
        "--batches",
        "3",
        "--output",
        str(tmp_path / "l.json"),
    )
    assert proc.returncode == 0, proc.stderr
    record = read_perf_record(tmp_path / "l.json")
    assert set(record.results["by_workers"]) == {"0", "1"}


def test_bad_options_exit_2_and_write_nothing(tmp_path):
    proc = _bench("--backbone", "schnett", cwd=tmp_path)
    assert proc.returncode == 2 and "Did you mean 'schnet'" in proc.stderr
    proc = _bench("--component", "disk", cwd=tmp_path)
    assert proc.returncode == 2 and "--component" in proc.stderr
    proc = _bench("--component", "graph", "--supercell", "6,6", cwd=tmp_path)
    assert proc.returncode == 2 and "--supercell needs three positive" in proc.stderr
    if not torch.cuda.is_available():
        proc = _bench("--component", "graph", "--device", "cuda", cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
            "error: --device cuda: no CUDA device is available (torch.cuda.is_available() is False)"
        ]
    assert not (tmp_path / "results").exists()
