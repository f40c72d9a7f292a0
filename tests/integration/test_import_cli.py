"""`bench import` in a subprocess: a DeNS-layout fixture becomes a run directory that the ASE
calculator (the loader `bench eval` and `bench relax` share) serves with the reference's
energy; bad input is one line and exit code 2, with nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).parents[1] / "data"
FIXTURE = DATA / "parity" / "fairchem_eq2_dens"


def _bench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, env=env, timeout=300)


def test_import_then_calculator(tmp_path):
    from bench.calculator import DensBenchCalculator

    run = tmp_path / "eq2-dens"
    proc = _bench(
        "import",
        str(FIXTURE.with_suffix(".pt")),
        "--from",
        "dens",
        "--output",
        str(run),
        "--dtype",
        "float64",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(run)
    atoms = read(DATA / "oc20_relax" / "random1000156.traj", 0)
    atoms.calc = DensBenchCalculator(run)
    stats = json.loads((run / "stats.json").read_text())
    ref = np.load(FIXTURE.with_suffix(".npz"))
    expected = float(ref["energy"][0]) * stats["energy_std"] + stats["energy_mean"]
    assert atoms.get_potential_energy() == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(
        atoms.calc.results["forces"], ref["forces"] * stats["force_std"], rtol=0, atol=1e-12
    )


def test_bad_input_one_line_exit_2(tmp_path):
    """A file that is not a torch checkpoint (the fixture's .npz)."""
    proc = _bench(
        "import",
        str(FIXTURE.with_suffix(".npz")),
        "--from",
        "dens",
        "--output",
        str(tmp_path / "run"),
    )
    assert proc.returncode == 2
    assert "fairchem_eq2_dens.npz: not a readable torch checkpoint" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_equiformer_md17_import_then_eval(tmp_path):
    """The authors' MD17 layout through `bench import --from equiformer`: the run directory's
    model gives the reference's energies (normalised units: their files hold no statistics)."""
    import torch

    from bench.parity import md17_inputs
    from bench.train.setup import load_run_model

    source = DATA / "parity" / "equiformer_l2_dens.pt"
    run = tmp_path / "eq-md17"
    proc = _bench(
        "import", str(source), "--from", "equiformer", "--output", str(run), "--dtype", "float64"
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads((run / "metrics.json").read_text())
    assert (record["status"], record["config"]["method"]["name"]) == ("imported", "dens")
    assert record["config"]["data"]["kind"] == "md17"
    model, _ = load_run_model(run)
    parity = torch.load(source, weights_only=True)["parity"]
    spec = parity["inputs"]
    x = md17_inputs(DATA.parent.parent / spec["file"], spec["frames"], spec["noise_atoms"])
    from torch_geometric.data import Batch, Data

    from bench.data import keys

    frames = [x["batch"] == b for b in range(int(x["batch"].max()) + 1)]
    batch = Batch.from_data_list(
        [
            Data(z=x["z"][f], pos=x["pos"][f], fixed=torch.zeros(int(f.sum()), dtype=torch.bool))
            for f in frames
        ]
    )
    energy = model.double().eval()(batch)[keys.OUT_ENERGY]
    expected = parity["outputs"]["energy"]
    assert torch.allclose(energy, expected, rtol=1e-10, atol=0), (energy, expected)
