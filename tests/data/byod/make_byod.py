"""Rebuild the bring-your-own-data files from the shipped subsets (not run by the tests).

Usage: python tests/data/byod/make_byod.py
Sources: tests/data/rmd17 (rMD17, CC0; revised labels ``energies`` / ``forces`` in kcal/mol)
and tests/data/oc20_relax (OC20, CC-BY-4.0). Every file is deterministic:

- ethanol_kcal.npz, ethanol_ev.npz: frames 0..39 of rmd17_ethanol_train_01.npz in sGDML
  layout (z, R [F, n, 3] Ang, E [F, 1], F [F, n, 3], e_unit, r_unit), once in kcal/mol and
  once converted to eV (x 4184 / 96485.33212331001, bench.data.units.KCAL_PER_MOL_TO_EV).
- ethanol_mace.extxyz: frames 0..29 of the same file in eV with MACE's label keys
  (``REF_energy`` in the comment line, ``REF_forces`` per atom) and three isolated-atom frames
  (``config_type=IsolatedAtom``) for H, C, O whose ``REF_energy`` is the minimum-norm
  least-squares per-element fit of the frames of mixed_aspirin_ethanol.extxyz (NOT physical
  isolated-atom energies: values that make the referenced energies small).
- mixed_aspirin_ethanol.extxyz: frames 0..11 of rmd17_aspirin_test_01.npz and 0..15 of
  rmd17_ethanol_test_01.npz in eV (plain extxyz ``energy=`` / ``forces``), two compositions.
- oc20_trajs/t0.traj, t1.traj, t2.traj: the five shipped OC20 frames cut into three
  pseudo-trajectories (frames 0-1, 2-3, 4), FixAtoms and labels kept, so a whole-trajectory
  split has trajectories to split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

HERE = Path(__file__).parent
DATA = HERE.parent
KCAL_PER_MOL_TO_EV = 4184.0 / 96485.33212331001
MACE_ENERGY, MACE_FORCES = "REF_energy", "REF_forces"


def _rmd17(name: str, rows: range) -> dict[str, np.ndarray]:
    d = np.load(DATA / "rmd17" / name)
    idx = np.asarray(rows)
    return {
        "z": d["nuclear_charges"],
        "R": d["coords"][idx],
        "E": d["energies"][idx],
        "F": d["forces"][idx],
    }


def _atoms(d: dict, i: int, keys: tuple[str, str] | None) -> Atoms:
    atoms = Atoms(numbers=d["z"], positions=d["R"][i])
    energy, forces = d["E"][i] * KCAL_PER_MOL_TO_EV, d["F"][i] * KCAL_PER_MOL_TO_EV
    if keys is None:
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms.calc = SinglePointCalculator(atoms, energy=float(energy), forces=forces)
    else:
        atoms.info[keys[0]] = float(energy)
        atoms.arrays[keys[1]] = forces
    return atoms


def _npz() -> None:
    d = _rmd17("rmd17_ethanol_train_01.npz", range(40))
    common = {"z": d["z"], "R": d["R"], "r_unit": np.array("Ang")}
    np.savez(
        HERE / "ethanol_kcal.npz",
        **common,
        E=d["E"][:, None],
        F=d["F"],
        e_unit=np.array("kcal/mol"),
    )
    np.savez(
        HERE / "ethanol_ev.npz",
        **common,
        E=d["E"][:, None] * KCAL_PER_MOL_TO_EV,
        F=d["F"] * KCAL_PER_MOL_TO_EV,
        e_unit=np.array("eV"),
    )


def _mixed() -> list[Atoms]:
    asp = _rmd17("rmd17_aspirin_test_01.npz", range(12))
    eth = _rmd17("rmd17_ethanol_test_01.npz", range(16))
    frames = [_atoms(asp, i, None) for i in range(12)] + [_atoms(eth, i, None) for i in range(16)]
    write(HERE / "mixed_aspirin_ethanol.extxyz", frames, format="extxyz")
    return frames


def _e0s(frames: list[Atoms]) -> dict[int, float]:
    elements = [1, 6, 8]
    counts = np.array([[np.sum(a.numbers == z) for z in elements] for a in frames], float)
    energy = np.array([a.get_potential_energy() for a in frames])
    ref, *_ = np.linalg.lstsq(counts, energy, rcond=None)
    return dict(zip(elements, ref.tolist(), strict=True))


def _mace(e0s: dict[int, float]) -> None:
    d = _rmd17("rmd17_ethanol_train_01.npz", range(30))
    frames = [_atoms(d, i, (MACE_ENERGY, MACE_FORCES)) for i in range(30)]
    for z, e in e0s.items():
        atom = Atoms(numbers=[z], positions=[[0.0, 0.0, 0.0]])
        atom.info |= {"config_type": "IsolatedAtom", MACE_ENERGY: e}
        frames.append(atom)
    write(HERE / "ethanol_mace.extxyz", frames, format="extxyz")


def _oc20() -> None:
    frames = read(DATA / "oc20_relax" / "random1000156.traj", ":")
    (HERE / "oc20_trajs").mkdir(exist_ok=True)
    for name, part in (("t0", frames[0:2]), ("t1", frames[2:4]), ("t2", frames[4:5])):
        write(HERE / "oc20_trajs" / f"{name}.traj", part)


if __name__ == "__main__":
    _npz()
    _mace(_e0s(_mixed()))
    _oc20()
