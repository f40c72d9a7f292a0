"""Files `bench eval --path` reads: npz units honoured or refused, unknown types refused."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.units import KCAL_PER_MOL_TO_EV
from bench.errors import DataError
from bench.eval_file import read_structures
from tests.conftest import DATA_DIR

RMD17 = DATA_DIR / "rmd17" / "rmd17_ethanol_test_01.npz"


def _sgdml(path, unit: str | None, scale: float):
    with np.load(RMD17) as f:
        arrays = {
            "z": f["nuclear_charges"],
            "R": f["coords"][:3],
            "E": f["energies"][:3] * scale,
            "F": f["forces"][:3] * scale,
        }
    if unit is not None:
        arrays |= {"e_unit": np.array(unit), "r_unit": np.array("Ang")}
    np.savez(path, **arrays)
    return path


def test_sgdml_npz_in_ev_and_in_kcal_per_mol_give_the_same_ev_labels(tmp_path):
    kcal = read_structures(_sgdml(tmp_path / "kcal.npz", "kcal/mol", 1.0))
    ev = read_structures(_sgdml(tmp_path / "ev.npz", "eV", KCAL_PER_MOL_TO_EV))
    rmd17 = read_structures(RMD17)[:3]
    for a, b, c in zip(kcal, ev, rmd17, strict=True):
        assert a.energy == pytest.approx(b.energy, rel=1e-12) == c.energy
        np.testing.assert_allclose(a.forces, b.forces, rtol=1e-12)
    assert abs(rmd17[0].energy) > 1000  # eV: ethanol's total energy is about -4209 eV


def test_files_that_cannot_be_read_unambiguously_are_refused(tmp_path):
    with pytest.raises(DataError, match="'e_unit': missing"):
        read_structures(_sgdml(tmp_path / "none.npz", None, 1.0))
    with pytest.raises(DataError, match="'e_unit': 'hartree'"):
        read_structures(_sgdml(tmp_path / "ha.npz", "Hartree", 1.0))
    (tmp_path / "frames.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match="unknown file type"):
        read_structures(tmp_path / "frames.csv")
    with pytest.raises(DataError, match="file not found"):
        read_structures(tmp_path / "absent.extxyz")
