"""`bench run` -> `bench eval` -> `bench relax` in subprocesses, on the shipped OC20 trajectory.

The calculator must reproduce `bench eval` exactly: on a one-structure test split the energy
MAE is |E_calc - E_DFT| and the force MAE is the mean |F_calc - F_DFT| over free atoms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.io import read

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).parents[1] / "data" / "oc20_relax"


def _bench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("results")
    proc = _bench(
        "run",
        "--backbone",
        "escn",
        "--method",
        "none",
        "--dataset",
        "ase",
        "--path",
        str(DATA),
        "--max-steps",
        "2",
        "--results",
        str(results),
        "--set",
        "data.kind=oc20",
        "--set",
        "variant=total-energy",
        "--set",
        "data.n_train=3",
        "--set",
        "data.n_val=1",
        "--set",
        "train.batch_size=2",
    )
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def test_calculator_matches_bench_eval(run_dir):
    from bench.calculator import DensBenchCalculator
    from bench.data.torch_data import to_data
    from bench.train.setup import load_run_model, load_split

    proc = _bench("eval", "--run", str(run_dir), "--split", "test", "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)["metrics"]
    model_cfg = load_run_model(run_dir)[1]
    (test,) = load_split(model_cfg.data).test
    label = to_data(test, getattr(torch, model_cfg.dtype))  # the labels as the run sees them
    e_dft, f_dft = float(label.energy[0]), label.forces.double().numpy()
    atoms = read(DATA / "random1000156.traj", index=int(test.id.split(":")[1]))
    atoms.calc = DensBenchCalculator(run_dir)
    free = ~test.fixed
    f_err = np.abs(atoms.get_forces(apply_constraint=False) - f_dft)[free].mean()
    assert metrics["n_structures"] == 1
    assert metrics["energy_mae_mev"] == pytest.approx(
        1000 * abs(atoms.get_potential_energy() - e_dft), abs=1e-6
    )
    assert metrics["force_mae_mev_per_a"] == pytest.approx(1000 * f_err, abs=1e-6)


def test_relax_json_outputs_and_fixed_atoms(run_dir, tmp_path):
    out = tmp_path / "relax"
    proc = _bench(
        "relax",
        "--run",
        str(run_dir),
        "--structures",
        str(DATA),
        "--optimizer",
        "bfgs",
        "--fmax",
        "1e-9",
        "--steps",
        "3",
        "--output",
        str(out),
        "--record-split",
        "test",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads((out / "relax.json").read_text())
    (row,) = report["results"]
    first, last = read(DATA / "random1000156.traj", 0), read(DATA / "random1000156.traj", -1)
    assert row["energy_relaxed_dft_ev"] == last.get_potential_energy()
    assert (row["steps"], row["converged"]) == (3, False)
    summary = report["summary"]
    assert summary["fraction_converged"] == 0.0 and summary["n_with_reference"] == 1
    assert summary["is2re_energy_mae_mev"] == pytest.approx(
        1000 * abs(row["energy_relaxed_pred_ev"] - row["energy_relaxed_dft_ev"])
    )
    assert report["energy_kind"] == "total"
    record = json.loads((run_dir / "metrics.json").read_text())["metrics"]["test"]
    assert record["is2re_energy_mae_mev"] == summary["is2re_energy_mae_mev"]
    assert "energy_mae_mev" in record  # the S2EF test metrics stay
    relaxed = read(out / "relaxed.extxyz")
    fixed = first.constraints[0].get_indices()
    np.testing.assert_allclose(relaxed.positions[fixed], first.positions[fixed], atol=1e-7)
    assert relaxed.get_potential_energy() == pytest.approx(row["energy_relaxed_pred_ev"])
    assert len(read(out / "trajectories" / "random1000156.traj", ":")) == 4  # initial + 3 steps


def test_bad_optimizer_exits_2(run_dir):
    proc = _bench("relax", "--run", str(run_dir), "--optimizer", "sgd")
    assert proc.returncode == 2 and "--optimizer must be one of" in proc.stderr
