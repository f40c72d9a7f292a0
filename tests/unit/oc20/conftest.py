"""Fixtures of the OC20 tests: the shipped relaxation frames, a folder of several trajectories
built from them, and one tiny finished EquiformerV2 run on that folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

TRAJ = Path(__file__).parents[2] / "data" / "oc20_relax" / "random1000156.traj"


def ci_run_config(results: Path, path: Path, overrides: tuple[str, ...] = ()):
    """ci EquiformerV2 config on the trajectory folder ``path``: whole trajectories split
    5 / 0 / 1, first 2 frames of each train trajectory, total energies, one step."""
    from bench.config import resolve_config

    cli = {
        "data.path": str(path),
        "data.kind": "oc20",
        "results": str(results),
        "train.max_steps": 1,
        "variant": "total-energy",
    }
    sets = [
        "data.split_by=trajectory",
        "data.early_frames=2",
        "data.n_train=5",
        "data.n_val=0",
        "data.max_structures=null",
        "train.batch_size=2",
        *overrides,
    ]
    return resolve_config("equiformer-v2", "none", "ase", "ci", "paper-v1", cli, sets)


@pytest.fixture(scope="session")
def shipped_atoms():
    """The five shipped frames as ASE Atoms (49 atoms, FixAtoms on 36, DFT single points)."""
    return read(TRAJ, index=":")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, traj_folder) -> Path:
    """A finished one-step EquiformerV2 (ci) run on :func:`traj_folder`."""
    from bench.train.run import run_training

    return run_training(ci_run_config(tmp_path_factory.mktemp("oc20run"), traj_folder))


@pytest.fixture(scope="session")
def traj_folder(tmp_path_factory, shipped_atoms) -> Path:
    """Six trajectory files ``t0.traj``..``t5.traj`` of 3 frames each (shipped frames shifted
    by a per-trajectory offset, so every frame is distinct), FixAtoms kept."""
    folder = tmp_path_factory.mktemp("trajs")
    for t in range(6):
        frames = []
        for k in range(3):
            atoms = shipped_atoms[k].copy()
            atoms.positions += 0.01 * t
            atoms.calc = SinglePointCalculator(
                atoms,
                energy=shipped_atoms[k].get_potential_energy() + t,
                forces=shipped_atoms[k].get_forces(apply_constraint=False),
            )
            frames.append(atoms)
        write(folder / f"t{t}.traj", frames)
    return folder


def positions_of_fixed(atoms) -> np.ndarray:
    """Positions [n_fixed, 3] of the atoms a FixAtoms constraint holds."""
    return atoms.positions[atoms.constraints[0].get_indices()]
