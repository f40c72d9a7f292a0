"""Original MD17 (sGDML npz: R, E, F, z in Angstrom, kcal/mol, kcal/mol/Angstrom).

Units: the file's ``e_unit`` / ``r_unit`` strings when present (bench.data.sgdml), else the
documented kcal/mol and Angstrom.

Layout: ``<data_root>/md17/md17_<molecule>.npz`` as published at
http://www.quantum-machine.org/gdml/data/npz/ (benzene: ``md17_benzene2017.npz``).
Split: the paper's protocol (950 / 50 / rest, ``numpy.random.default_rng(seed=1)``).
"""

from __future__ import annotations

from bench.data.checksums import sha256_files
from bench.data.frames import trajectory_structures
from bench.data.molecules import molecule_name, protocol_split
from bench.data.npz import load_npz
from bench.data.paths import dataset_dir
from bench.data.registry import DatasetSpec, SplitData
from bench.data.sgdml import MD17_UNITS, NPZ_KEYS, UNIT_KEYS, npz_units

#: molecule -> file name under md17/
MD17_FILES = {
    "aspirin": "md17_aspirin.npz",
    "benzene": "md17_benzene2017.npz",
    "ethanol": "md17_ethanol.npz",
    "malonaldehyde": "md17_malonaldehyde.npz",
    "naphthalene": "md17_naphthalene.npz",
    "salicylic": "md17_salicylic.npz",
    "toluene": "md17_toluene.npz",
    "uracil": "md17_uracil.npz",
}


def load_md17(spec: DatasetSpec) -> SplitData:
    """Train/val/test structures of one MD17 molecule (energies eV, forces eV/Angstrom)."""
    folder = dataset_dir(spec, "md17")
    mol = molecule_name(spec, tuple(MD17_FILES), folder)
    path = folder / MD17_FILES[mol]
    arrays = load_npz(path, NPZ_KEYS, UNIT_KEYS)
    units = npz_units(arrays, path, spec.energy_unit, spec.length_unit, MD17_UNITS)
    structures = trajectory_structures(
        path, NPZ_KEYS, arrays, lambda i: f"md17/{mol}:index={i}", *units
    )
    return protocol_split(structures, spec, path, sha256_files([path]))
