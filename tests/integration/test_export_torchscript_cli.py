"""`bench export --torchscript` on a 2-step SchNet run of the shipped rMD17 ethanol subset: the
file loads with ``torch.jit.load`` in a fresh process that never imports ``backbones``, and its
energy and autograd forces equal the eager model's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.data.rmd17 import read_rmd17_file
from bench.data.torch_data import collate
from bench.export import load_model

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

# Run in a fresh interpreter: raw torch.jit.load, then the loader, on inputs from a file.
LOADER = """
import json, sys, torch
from bench.torchscript import META_FILE, load_torchscript
extra = {META_FILE: ""}
torch.jit.load(sys.argv[1], _extra_files=extra)
model = load_torchscript(sys.argv[1])
inputs = torch.load(sys.argv[2], weights_only=True)
energy, forces = model(inputs["z"], inputs["pos"], inputs["natoms"])
torch.save({"energy": energy, "forces": forces}, sys.argv[3])
print(json.dumps({"meta": json.loads(extra[META_FILE]),
                  "imported": sorted(m for m in sys.modules
                                     if m.split(".")[0] in ("backbones", "torch_geometric"))}))
"""


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, env=ENV, timeout=300, cwd=ROOT
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("ts") / "results"
    proc = _bench(
        "run",
        "--backbone",
        "schnet",
        "--method",
        "none",
        "--dataset",
        "rmd17",
        "--molecule",
        "ethanol",
        "--data-root",
        str(DATA),
        "--max-steps",
        "2",
        "--results",
        str(results),
    )
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def test_torchscript_export_matches_the_eager_model_without_backbones(run_dir, tmp_path):
    output = tmp_path / "elsewhere" / "model.ts.pt"
    proc = _bench("export", "--run", str(run_dir), "--output", str(output), "--torchscript")
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr
    npz = DATA / "rmd17" / "rmd17_ethanol_test_01.npz"
    refused = _bench("eval", "--run", str(output), "--path", str(npz))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "a TorchScript file" in refused.stderr and str(output) in refused.stderr
    frames = read_rmd17_file(npz, "ethanol", "revised")
    batch = collate(frames[:4])
    inputs = {"z": batch.z, "pos": batch.pos, "natoms": torch.bincount(batch.batch)}
    torch.save(inputs, tmp_path / "inputs.pt")
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            LOADER,
            str(output),
            str(tmp_path / "inputs.pt"),
            str(tmp_path / "out.pt"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        cwd=tmp_path,
    )
    assert loaded.returncode == 0, loaded.stderr
    report = json.loads(loaded.stdout)
    assert report["imported"] == []
    meta = report["meta"]
    assert (meta["backbone"], meta["cutoff"], meta["force_mode"]) == ("schnet", 5.0, "gradient")
    stats = json.loads((run_dir / "stats.json").read_text())
    assert meta["normalization"] == stats and meta["run_id"] == run_dir.name

    got = torch.load(tmp_path / "out.pt", weights_only=True)
    model, _ = load_model(run_dir)
    with torch.no_grad():
        want = model(batch)
    assert got["energy"].dtype == torch.float64
    torch.testing.assert_close(got["energy"], want["energy"], rtol=1e-6, atol=0)
    scale = float(want["forces"].abs().max())
    torch.testing.assert_close(got["forces"], want["forces"], rtol=1e-6, atol=1e-6 * scale)
