"""Revised MD17 (andersx/rmd17-npz layout) with original or revised labels.

Layout: ``<data_root>/rmd17/rmd17_<molecule>_<train|test>_<01..05>.npz`` with keys
nuclear_charges, coords (Angstrom), energies, forces (kcal/mol, kcal/mol/Angstrom),
old_indices (frame index in the original MD17 trajectory), old_energies, old_forces
(the original MD17 labels of the same frames).

``labels="original"`` (the paper's MD17 protocol on the frames available): every file of the
molecule is read, frames are deduplicated by ``old_indices`` (copies must agree) and sorted by
it, then split 950 / 50 / rest with ``numpy.random.default_rng(seed)``.

``labels="revised"``: the official split ``split_index`` K: train and val are drawn from
``*_train_0K.npz`` (seeded permutation, 950 / 50 by default), test is ``*_test_0K.npz``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bench.data.checks import check_real
from bench.data.checksums import sha256_files
from bench.data.frames import trajectory_structures
from bench.data.molecules import molecule_name, protocol_split
from bench.data.npz import load_npz
from bench.data.paths import dataset_dir
from bench.data.registry import DatasetSpec, SplitData
from bench.data.splits import MD17_N_TRAIN, MD17_N_VAL, random_split, take
from bench.data.structure import Structure
from bench.errors import DataError

RMD17_MOLECULES = tuple(
    "aspirin azobenzene benzene ethanol malonaldehyde naphthalene paracetamol salicylic "
    "toluene uracil".split()
)
LABELS = ("original", "revised")
_KEYS = {
    "original": ("nuclear_charges", "coords", "old_energies", "old_forces"),
    "revised": ("nuclear_charges", "coords", "energies", "forces"),
}


def load_rmd17(spec: DatasetSpec) -> SplitData:
    """Train/val/test structures of one rMD17 molecule (energies eV, forces eV/Angstrom)."""
    folder = dataset_dir(spec, "rmd17")
    mol = molecule_name(spec, RMD17_MOLECULES, folder)
    if spec.labels not in LABELS:
        raise DataError(folder, "labels", f"unknown {spec.labels!r}; choose one of {LABELS}")
    if spec.labels == "original":
        files = _split_files(folder, mol)
        frames = _deduplicate([s for f in files for s in read_rmd17_file(f, mol, "original")])
        where = files[0] if len(files) == 1 else folder  # too few frames: name the one file
        return protocol_split(frames, spec, where, sha256_files(files))
    return _official_split(folder, mol, spec)


def read_rmd17_file(path: Path, mol: str, labels: str) -> list[Structure]:
    """Every frame of one rMD17 npz with the chosen labels; id ``rmd17/<mol>:old_index=<i>``."""
    arrays = load_npz(path, (*_KEYS[labels], "old_indices"))
    old = check_real(arrays["old_indices"], path, "old_indices", kinds="iu").reshape(-1)
    if old.shape[0] != np.shape(arrays["coords"])[0]:
        raise DataError(path, "old_indices", f"{old.shape[0]} entries for a different frame count")
    structures = trajectory_structures(
        path, _KEYS[labels], arrays, lambda i: f"rmd17/{mol}:old_index={int(old[i])}"
    )
    for s, o in zip(structures, old.tolist(), strict=True):
        s.info["old_index"] = int(o)
    return structures


def _split_files(folder: Path, mol: str) -> list[Path]:
    pattern = re.compile(rf"rmd17_{mol}_(train|test)_\d\d\.npz")
    files = sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name))
    if not files:
        raise DataError(folder, "molecule", f"no rmd17_{mol}_<train|test>_NN.npz files")
    return files


def _deduplicate(frames: list[Structure]) -> list[Structure]:
    """One structure per old_index, sorted by it; copies must hold the same frame and labels."""
    unique: dict[int, Structure] = {}
    for s in frames:
        first = unique.setdefault(s.info["old_index"], s)
        if first is not s and not _same_frame(first, s):
            raise DataError(
                s.info["source"],
                "old_indices",
                f"old_index {s.info['old_index']} differs from its copy in {first.info['source']}",
            )
    return [unique[k] for k in sorted(unique)]


def _same_frame(a: Structure, b: Structure) -> bool:
    return (
        np.array_equal(a.z, b.z)
        and np.array_equal(a.pos, b.pos)
        and a.energy == b.energy
        and np.array_equal(a.forces, b.forces)
    )


def _official_split(folder: Path, mol: str, spec: DatasetSpec) -> SplitData:
    k = spec.split_index
    if not 1 <= k <= 99:
        raise DataError(folder, "split_index", f"must be in 1..99, got {k}")
    train_file = folder / f"rmd17_{mol}_train_{k:02d}.npz"
    test_file = folder / f"rmd17_{mol}_test_{k:02d}.npz"
    pool = read_rmd17_file(train_file, mol, "revised")
    test = read_rmd17_file(test_file, mol, "revised")
    n_train = MD17_N_TRAIN if spec.n_train is None else spec.n_train
    n_val = MD17_N_VAL if spec.n_val is None else spec.n_val
    tr, va, _ = random_split(len(pool), n_train, n_val, spec.split_seed, train_file)
    lim = spec.max_structures
    return SplitData(
        train=take(pool, tr, lim),
        val=take(pool, va, lim),
        test=test if lim is None else test[:lim],
        periodic=False,
        sources=sha256_files([train_file, test_file]),
    )
