"""Any file ASE reads with energies and forces: extended XYZ, ASE .traj, ASE db (sqlite).

``spec.path`` is one file or a folder (every ``*.xyz``, ``*.extxyz``, ``*.traj``, ``*.db`` in it,
sorted by name). Energies and forces are taken as eV and eV/Angstrom (ASE's units).

OC20-style slabs: a ``FixAtoms`` constraint becomes the ``fixed`` mask (other constraints are
ignored); forces are read without applying constraints (the raw labels, as fairchem's
AtomsToGraphs does). Tags are kept when any is non-zero; when all are zero and a fixed mask
exists, they are rebuilt as OC20 does: 0 = fixed (subsurface), 2 = adsorbate = the trailing
run of free H/C/N/O atoms (OC20 writes the adsorbate after the slab), 1 = every other free
atom (surface).

Split: seeded permutation (``numpy.random.default_rng(spec.split_seed)``), ``n_train`` /
``n_val`` frames (default 80 % / 10 %), the rest test. With ``spec.split_by == "trajectory"``
each file is one trajectory and whole files are split (bench.data.trajectory_split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

from bench.data.checks import (
    check_atomic_numbers,
    check_finite,
    check_real,
    check_shape,
    check_structure,
)
from bench.data.checksums import sha256_files
from bench.data.registry import DatasetSpec, SplitData
from bench.data.splits import random_split, take
from bench.data.structure import Structure
from bench.data.trajectory_split import trajectory_split
from bench.errors import DataError

SUFFIXES = (".xyz", ".extxyz", ".traj", ".db")
ADSORBATE_ELEMENTS = (1, 6, 7, 8)  # H, C, N, O: the only elements of OC20 adsorbates
DEFAULT_FRACTIONS = (0.8, 0.1)
#: Structure attribute -> the name ASE gives it (used in error messages)
_FIELDS = {"z": "numbers", "pos": "positions", "energy": "energy", "forces": "forces",
           "cell": "cell"}


def load_ase(spec: DatasetSpec) -> SplitData:
    """Train/val/test structures from the ASE-readable file(s) at ``spec.path``."""
    files = ase_files(spec.path)
    if spec.split_by == "trajectory":
        return _load_by_trajectory(spec, files)
    structures = [s for f in files for s in read_ase_file(f)]
    n = len(structures)
    n_train = int(DEFAULT_FRACTIONS[0] * n) if spec.n_train is None else spec.n_train
    n_val = int(DEFAULT_FRACTIONS[1] * n) if spec.n_val is None else spec.n_val
    tr, va, te = random_split(n, n_train, n_val, spec.split_seed, spec.path)
    lim = spec.max_structures
    return SplitData(
        train=take(structures, tr, lim),
        val=take(structures, va, lim),
        test=take(structures, te, lim),
        periodic=any(s.periodic for s in structures),
        sources=sha256_files(files),
    )


def _load_by_trajectory(spec: DatasetSpec, files: list[Path]) -> SplitData:
    """Whole files (trajectories) to train/val/test; ``max_structures`` truncates each split."""
    trajectories = {f.name: read_ase_file(f) for f in files}
    parts = trajectory_split(trajectories, spec.n_train, spec.n_val, spec.split_seed,
                             spec.early_frames, spec.path)
    lim = spec.max_structures
    train, val, test = (p[:lim] for p in parts)
    return SplitData(
        train=train,
        val=val,
        test=test,
        periodic=any(s.periodic for t in trajectories.values() for s in t),
        sources=sha256_files(files),
    )


def ase_files(path: Path | None) -> list[Path]:
    """The file, or the readable files of the folder, at ``path``."""
    if path is None:
        raise DataError(None, "path", "the ase dataset needs --path FILE_OR_FOLDER")
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise DataError(path, None, f"no {'/'.join(SUFFIXES)} files in folder")
        return files
    if not path.is_file():
        raise DataError(path, None, "file not found")
    return [path]


def read_ase_file(path: Path) -> list[Structure]:
    """Every frame of one ASE-readable file as a Structure (ids ``<file name>:<frame>``)."""
    if path.stat().st_size == 0:
        raise DataError(path, None, "empty file")
    from ase.io import read

    try:
        frames = read(path, index=":")
    except Exception as exc:  # ASE raises many types for malformed files
        raise DataError(path, None, f"ASE cannot read it ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise DataError(path, None, "no frames")
    return [atoms_to_structure(a, path, i) for i, a in enumerate(frames)]


def atoms_to_structure(atoms: Atoms, path: Path, i: int) -> Structure:
    """One ASE Atoms with a calculator holding energy and forces -> Structure.

    Raises:
        DataError: any check of bench.data.checks.check_structure, or non-numeric labels.
    """
    fields = {k: f"{name} (frame {i})" for k, name in _FIELDS.items()}
    z = check_atomic_numbers(atoms.numbers, path, fields["z"])
    pos = check_real(atoms.positions, path, fields["pos"]).astype(np.float64)
    check_finite(pos, path, fields["pos"])  # before the labels: ASE hides them for NaN positions
    energy = check_real(_property(atoms, "energy", path, i), path, fields["energy"]).reshape(-1)
    check_shape(energy, (1,), path, fields["energy"])
    forces = check_real(_property(atoms, "forces", path, i), path, fields["forces"])
    periodic = bool(np.any(atoms.pbc))
    fixed = fixed_mask(atoms)
    s = Structure(
        z=z,
        pos=pos,
        energy=float(energy[0]),
        forces=forces.astype(np.float64),
        id=f"{path.name}:{i}",
        cell=np.asarray(atoms.cell.array, dtype=np.float64) if periodic else None,
        pbc=np.asarray(atoms.pbc, dtype=bool) if periodic else None,
        fixed=fixed,
        tags=oc20_tags(z, fixed, np.asarray(atoms.get_tags(), dtype=np.int64)),
        info={"source": str(path), "frame": i},
    )
    check_structure(s, path, fields)
    return s


def _property(atoms: Atoms, name: str, path: Path, i: int):
    try:
        if name == "forces":  # raw labels: fixed atoms keep their DFT forces, as fairchem does
            return atoms.get_forces(apply_constraint=False)
        return atoms.get_potential_energy()
    except Exception as exc:  # no calculator, or a calculator without this property
        raise DataError(path, f"{name} (frame {i})", "missing from the file") from exc


def fixed_mask(atoms: Atoms) -> np.ndarray | None:
    """bool [n]: atoms fixed by a FixAtoms constraint; None when there is none."""
    cons = [c for c in atoms.constraints if isinstance(c, FixAtoms)]
    if not cons:
        return None
    mask = np.zeros(len(atoms), dtype=bool)
    for c in cons:
        mask[c.get_indices()] = True
    return mask


def oc20_tags(z: np.ndarray, fixed: np.ndarray | None, tags: np.ndarray) -> np.ndarray | None:
    """Tags as stored when any is non-zero; else rebuilt from ``fixed`` (module docstring)."""
    if np.any(tags != 0):
        return tags
    if fixed is None:
        return None
    out = np.where(fixed, 0, 1).astype(np.int64)
    i = len(z)
    while i > 0 and not fixed[i - 1] and z[i - 1] in ADSORBATE_ELEMENTS:
        i -= 1
    out[i:] = 2
    return out
