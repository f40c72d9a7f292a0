"""Any file ASE reads with energies and forces: extended XYZ, ASE .traj, ASE db (sqlite).

``spec.path`` is one file or a folder (every ``*.xyz``, ``*.extxyz``, ``*.traj``, ``*.db`` in it,
sorted by name). Energies and forces are taken as eV and eV/Angstrom (ASE's units).

OC20-style slabs: a ``FixAtoms`` constraint becomes the ``fixed`` mask (other constraints are
ignored); forces are read without applying constraints (the raw labels, as fairchem's
AtomsToGraphs does). Tags are kept when any is non-zero; when all are zero and a fixed mask
exists, they are rebuilt as OC20 does: 0 = fixed (subsurface), 2 = adsorbate = the trailing
run of free H/C/N/O atoms (OC20 writes the adsorbate after the slab), 1 = every other free
atom (surface).

Labels: the calculator's, or the ``atoms.info`` / ``atoms.arrays`` keys ``spec.energy_key`` /
``spec.forces_key`` name (MACE's REF_energy / REF_forces); isolated-atom frames become per-element
energies E0 (``SplitData.e0s``), not training frames (bench.data.labels).

Split: seeded permutation (``numpy.random.default_rng(spec.split_seed)``), ``n_train`` /
``n_val`` frames (default 80 % / 10 %), the rest test. With ``spec.split_by == "trajectory"``
each file is one trajectory and whole files are split (bench.data.trajectory_split). With
``spec.train_path`` (and optionally ``val_path`` / ``test_path``) each given file or folder is
its split (bench.data.explicit_splits).
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
    check_structure,
)
from bench.data.checksums import sha256_files
from bench.data.explicit_splits import carve_splits
from bench.data.labels import (
    CALCULATOR,
    LabelKeys,
    add_e0,
    energy_of,
    forces_of,
    is_isolated_atom,
    merge_e0s,
)
from bench.data.registry import DatasetSpec, SplitData
from bench.data.splits import fraction_split
from bench.data.structure import Structure
from bench.data.trajectory_split import trajectory_split
from bench.errors import ConfigError, DataError

SUFFIXES = (".xyz", ".extxyz", ".traj", ".db")
ADSORBATE_ELEMENTS = (1, 6, 7, 8)  # H, C, N, O: the only elements of OC20 adsorbates
#: Structure attribute -> the name ASE gives it (used in error messages)
_FIELDS = {
    "z": "numbers",
    "pos": "positions",
    "energy": "energy",
    "forces": "forces",
    "cell": "cell",
}


def load_ase(spec: DatasetSpec) -> SplitData:
    """Train/val/test structures from the ASE-readable file(s) at ``spec.path`` (or at
    ``spec.train_path`` / ``val_path`` / ``test_path``)."""
    keys = LabelKeys(spec.energy_key, spec.forces_key)
    if any(p is not None for p in (spec.train_path, spec.val_path, spec.test_path)):
        return _load_explicit(spec, keys)
    files = ase_files(spec.path)
    if spec.split_by == "trajectory":
        return load_by_trajectory(spec, files, keys)
    per_file, e0s = read_files(files, keys, spec.path)
    structures = [s for frames in per_file.values() for s in frames]
    train, val, test = fraction_split(
        structures, spec.n_train, spec.n_val, spec.split_seed, spec.max_structures, spec.path
    )
    periodic = any(s.periodic for s in structures)
    return SplitData(train, val, test, periodic, sources=sha256_files(files), e0s=e0s)


def load_by_trajectory(spec: DatasetSpec, files: list[Path], keys: LabelKeys) -> SplitData:
    """Whole files (trajectories) to train/val/test; ``max_structures`` caps each split with
    whole trajectories spread across it (bench.data.trajectory_split)."""
    per_file, e0s = read_files(files, keys, spec.path)
    trajectories = {name: frames for name, frames in per_file.items() if frames}
    parts = trajectory_split(
        trajectories,
        spec.n_train,
        spec.n_val,
        spec.split_seed,
        spec.early_frames,
        spec.path,
        spec.max_structures,
    )
    periodic = any(s.periodic for t in trajectories.values() for s in t)
    return SplitData(*parts, periodic=periodic, sources=sha256_files(files), e0s=e0s)


def _load_explicit(spec: DatasetSpec, keys: LabelKeys) -> SplitData:
    """One file or folder per split; splits without a path are carved from the train files."""
    if spec.path is not None or spec.train_path is None or spec.split_by != "frame":
        raise ConfigError(
            "data.train_path (with optional val_path / test_path) replaces "
            "data.path and needs split_by 'frame'; got path "
            f"{spec.path}, train_path {spec.train_path}, split_by {spec.split_by!r}"
        )
    paths = {"train": spec.train_path, "val": spec.val_path, "test": spec.test_path}
    files = {k: ase_files(p) for k, p in paths.items() if p is not None}
    read = {k: read_files(f, keys, paths[k]) for k, f in files.items()}
    frames = {k: [s for fr in per_file.values() for s in fr] for k, (per_file, _) in read.items()}
    train, val, test = carve_splits(frames, spec)
    everything = [s for part in frames.values() for s in part]
    return SplitData(
        train,
        val,
        test,
        periodic=any(s.periodic for s in everything),
        sources=sha256_files([f for fs in files.values() for f in fs]),
        e0s=merge_e0s([e0 or {} for _, e0 in read.values()], spec.train_path),
    )


def read_files(
    files: list[Path], keys: LabelKeys = CALCULATOR, where: Path | None = None
) -> tuple[dict[str, list[Structure]], dict[int, float] | None]:
    """``({file name: structures}, E0s)`` of ``files``: isolated-atom frames become the E0s
    ({Z: eV}, None when there is none; bench.data.labels)."""
    per_file, parts = {}, []
    for f in files:
        per_file[f.name], e0s = read_ase_frames(f, keys)
        parts.append(e0s)
    return per_file, merge_e0s(parts, where or files[0])


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


def read_ase_file(path: Path, keys: LabelKeys = CALCULATOR) -> list[Structure]:
    """Every frame of one ASE-readable file as a Structure (ids ``<file name>:<frame>``),
    isolated-atom frames left out."""
    return read_ase_frames(path, keys)[0]


def read_ase_frames(
    path: Path, keys: LabelKeys = CALCULATOR
) -> tuple[list[Structure], dict[int, float]]:
    """The structures of one ASE-readable file and the E0s ({Z: eV}) of its isolated atoms."""
    if path.stat().st_size == 0:
        raise DataError(path, None, "empty file")
    from ase.io import read

    try:
        frames = read(path, index=":")
    except Exception as exc:  # ASE raises many types for malformed files
        raise DataError(path, None, f"ASE cannot read it ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise DataError(path, None, "no frames")
    structures, e0s = [], {}
    for i, atoms in enumerate(frames):
        if is_isolated_atom(atoms):
            add_e0(e0s, atoms, keys, path, i)
        else:
            structures.append(atoms_to_structure(atoms, path, i, keys))
    return structures, e0s


def atoms_to_structure(atoms: Atoms, path: Path, i: int, keys: LabelKeys = CALCULATOR) -> Structure:
    """One labelled ASE Atoms -> Structure (labels found as bench.data.labels says).

    Raises:
        DataError: any check of bench.data.checks.check_structure, or non-numeric labels.
    """
    fields = {k: f"{name} (frame {i})" for k, name in _FIELDS.items()}
    z = check_atomic_numbers(atoms.numbers, path, fields["z"])
    pos = check_real(atoms.positions, path, fields["pos"]).astype(np.float64)
    check_finite(pos, path, fields["pos"])  # before the labels: ASE hides them for NaN positions
    energy = np.array([energy_of(atoms, keys, path, i)], dtype=np.float64)
    forces = check_real(forces_of(atoms, keys, path, i), path, fields["forces"])
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
