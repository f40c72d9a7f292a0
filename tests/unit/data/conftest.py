"""Fixtures of the data-layer tests: copies of the shipped subset and files built from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.data.ase_files import read_ase_file
from bench.data.structure import Structure

TRAJ = "oc20_relax/random1000156.traj"


@pytest.fixture
def rmd17_root(data_dir: Path, tmp_path: Path) -> Path:
    """A writable data root holding a copy of the shipped rmd17/ folder."""
    shutil.copytree(data_dir / "rmd17", tmp_path / "rmd17")
    return tmp_path


@pytest.fixture
def md17_root(data_dir: Path, tmp_path: Path) -> Path:
    """A data root with md17/md17_aspirin.npz in sGDML layout, built from the rMD17 subset's
    original labels (E as [F, 1], like the published files)."""
    src = np.load(data_dir / "rmd17" / "rmd17_aspirin_train_01.npz")
    (tmp_path / "md17").mkdir()
    np.savez(
        tmp_path / "md17" / "md17_aspirin.npz",
        z=src["nuclear_charges"],
        R=src["coords"],
        E=src["old_energies"][:, None],
        F=src["old_forces"],
    )
    return tmp_path


@pytest.fixture(scope="session")
def oc20_frames() -> list[Structure]:
    """The five shipped OC20 frames (49 atoms, periodic, FixAtoms)."""
    return read_ase_file(Path(__file__).parents[2] / "data" / TRAJ)
