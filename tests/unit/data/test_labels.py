"""ASE label keys (MACE REF_energy / REF_forces), isolated-atom E0s and per-split paths."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write

from bench.data.ase_files import load_ase, read_ase_frames
from bench.data.explicit_splits import carve_splits
from bench.data.labels import LabelKeys, is_isolated_atom
from bench.data.registry import DatasetSpec
from bench.errors import ConfigError, DataError

MACE = LabelKeys("REF_energy", "REF_forces")


def test_mace_keys_and_isolated_atoms(data_dir):
    path = data_dir / "byod" / "ethanol_mace.extxyz"
    structures, e0s = read_ase_frames(path, MACE)
    atoms = read(path, index=":")
    assert len(structures) == 30 and sorted(e0s) == [1, 6, 8]
    assert e0s[6] == atoms[31].info["REF_energy"] and atoms[31].numbers.tolist() == [6]
    for s, a in zip(structures, atoms, strict=False):
        assert s.energy == a.info["REF_energy"]
        np.testing.assert_array_equal(s.forces, a.arrays["REF_forces"])
    with pytest.raises(DataError, match="REF_energy") as info:
        read_ase_frames(path)
    assert info.value.field == "energy (frame 0)" and "data.energy_key" in str(info.value)
    with pytest.raises(DataError, match="no key 'REF_force'") as info:
        read_ase_frames(path, LabelKeys("REF_energy", "REF_force"))
    assert "REF_forces" in str(info.value)


def test_calculator_names_as_keys_read_the_calculator(data_dir):
    path = data_dir / "byod" / "mixed_aspirin_ethanol.extxyz"
    plain, _ = read_ase_frames(path)
    named, e0s = read_ase_frames(path, LabelKeys("energy", "forces"))
    assert [s.energy for s in named] == [s.energy for s in plain] and e0s == {}


def test_isolated_atom_flags_and_clashing_e0s(tmp_path):
    h = Atoms("H", positions=[[0, 0, 0]])
    assert not is_isolated_atom(h)
    for kind in ("IsolatedAtom", "isolated_atom"):
        h.info["config_type"] = kind
        assert is_isolated_atom(h)
    assert not is_isolated_atom(
        Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]], info={"config_type": "IsolatedAtom"})
    )
    frames = [Atoms("H", info={"config_type": "IsolatedAtom", "E": e}) for e in (-13.6, -13.0)]
    write(tmp_path / "e0.extxyz", frames)
    with pytest.raises(DataError, match="isolated atom Z=1"):
        read_ase_frames(tmp_path / "e0.extxyz", LabelKeys("E", None))


def test_carve_splits_rules():
    spec = DatasetSpec("ase", split_seed=0)
    pool = list(range(20))
    tr, va, te = carve_splits({"train": pool}, spec)
    assert (len(tr), len(va), len(te)) == (16, 2, 2) and sorted(tr + va + te) == pool
    tr, va, te = carve_splits({"train": pool, "test": ["t"]}, spec)
    assert (len(tr), len(va), te) == (18, 2, ["t"]) and not set(tr) & set(va)
    tr, va, te = carve_splits({"train": pool, "val": ["v"], "test": ["t"]}, spec)
    assert sorted(tr) == pool and (va, te) == (["v"], ["t"])


def test_train_val_test_paths(data_dir):
    byod = data_dir / "byod"
    spec = DatasetSpec(
        "ase",
        train_path=byod / "mixed_aspirin_ethanol.extxyz",
        test_path=byod / "ethanol_mace.extxyz",
        energy_key="REF_energy",
        forces_key="REF_forces",
    )
    with pytest.raises(DataError, match="energy"):  # the mixed file has no REF_energy
        load_ase(spec)
    spec = DatasetSpec(
        "ase",
        train_path=byod / "ethanol_mace.extxyz",
        val_path=byod / "ethanol_mace.extxyz",
        energy_key="REF_energy",
        forces_key="REF_forces",
    )
    split = load_ase(spec)
    assert (len(split.train), len(split.val), len(split.test)) == (24, 30, 6)
    assert sorted(split.e0s) == [1, 6, 8]
    with pytest.raises(ConfigError, match="replaces data.path"):
        load_ase(DatasetSpec("ase", path=byod, train_path=byod))
