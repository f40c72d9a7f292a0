"""Bring your own data through `bench run` (subprocess, ci preset, 2 steps) on tests/data/byod.

Files: tests/data/byod/make_byod.py (derived from the shipped rMD17 and OC20 frames).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from bench.data.trajectory_split import split_names

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
BYOD = Path(__file__).resolve().parents[1] / "data" / "byod"


def _run(results: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        *BENCH,
        "run",
        "--backbone",
        "schnet",
        "--method",
        "none",
        "--max-steps",
        "2",
        "--results",
        str(results),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _done(proc: subprocess.CompletedProcess) -> tuple[Path, dict]:
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_ev_npz_gives_the_metrics_of_the_same_frames_in_kcal(tmp_path):
    _, kcal = _done(_run(tmp_path, "--dataset", "npz", "--path", str(BYOD / "ethanol_kcal.npz")))
    _, ev = _done(_run(tmp_path, "--dataset", "npz", "--path", str(BYOD / "ethanol_ev.npz")))
    assert ev["metrics"] == kcal["metrics"]  # meV either way: the units of the file are honoured
    assert 1 < kcal["metrics"]["test"]["energy_mae_mev"] < 5000
    d = dict(np.load(BYOD / "ethanol_ev.npz"))
    bare = tmp_path / "bare.npz"
    np.savez(bare, **{k: v for k, v in d.items() if k != "e_unit"})
    info = subprocess.run(
        [*BENCH, "data", "info", "npz", "--path", str(bare)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert info.returncode == 2 and "Traceback" not in info.stderr
    assert "bare.npz: field 'e_unit'" in info.stderr and "--set data.energy_unit=" in info.stderr


def test_mace_keys_and_isolated_atom_e0s(tmp_path):
    keys = ("--set", "data.energy_key=REF_energy", "--set", "data.forces_key=REF_forces")
    path = BYOD / "ethanol_mace.extxyz"
    run_dir, record = _done(_run(tmp_path, "--dataset", "ase", "--path", str(path), *keys))
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["element_refs"]["source"] == "isolated atoms"
    e0 = {str(a.numbers[0]): a.info["REF_energy"] for a in _isolated(path)}
    assert stats["atom_ref"] == e0
    assert record["metrics"]["test"]["n_structures"] == 30 - 16 - 8  # E0 frames are no data


def test_mixed_compositions_train_on_referenced_energies(tmp_path):
    path = BYOD / "mixed_aspirin_ethanol.extxyz"
    run_dir, record = _done(_run(tmp_path, "--dataset", "ase", "--path", str(path)))
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["element_refs"]["used"] and stats["element_refs"]["n_compositions"] == 2
    assert stats["force_std"] < 1.0  # eV/A; the raw total energies spread over 13 keV
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["element_refs"] == "auto"
    assert record["metrics"]["test"]["energy_mae_mev"] < 5000  # raw totals: ~1e7 meV


def test_oc20_trajectory_folder(tmp_path):
    sizes = ("--set", "data.n_train=1", "--set", "data.n_val=1", "--set", "train.batch_size=1")
    path = BYOD / "oc20_trajs"
    run_dir, record = _done(_run(tmp_path, "--dataset", "oc20-traj", "--path", str(path), *sizes))
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (cfg["data"]["kind"], cfg["data"]["split_by"], cfg["variant"]) == (
        "oc20",
        "trajectory",
        "total-energy",
    )
    _, val, test = split_names(["t0.traj", "t1.traj", "t2.traj"], 1, 1, seed=1)
    frames = {"t0.traj": 2, "t1.traj": 2, "t2.traj": 1}  # make_byod.py: whole files per split
    assert [record["metrics"][k]["n_structures"] for k in ("val", "test")] == [
        frames[val[0]],
        frames[test[0]],
    ]
    assert record["metrics"]["test"]["energy_mae_mev"] < 5000


def _isolated(path: Path):
    from ase.io import read

    return [a for a in read(path, index=":") if a.info.get("config_type") == "IsolatedAtom"]
