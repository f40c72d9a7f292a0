import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from bench.data.ase_files import load_ase, oc20_tags, read_ase_file
from bench.data.registry import DatasetSpec
from bench.errors import DataError


def test_oc20_traj_keeps_fixed_mask_and_rebuilds_tags(data_dir, oc20_frames):
    ref = read(data_dir / "oc20_relax" / "random1000156.traj", index=":")
    assert len(oc20_frames) == 5
    for s, atoms in zip(oc20_frames, ref, strict=True):
        assert s.energy == atoms.get_potential_energy()
        np.testing.assert_array_equal(s.forces, atoms.get_forces(apply_constraint=False))
        np.testing.assert_array_equal(s.cell, atoms.cell.array)
        assert s.pbc.all() and s.periodic
        np.testing.assert_array_equal(np.flatnonzero(s.fixed), atoms.constraints[0].index)
    s = oc20_frames[0]
    # 36 fixed (subsurface) atoms, 12 free slab atoms (surface), the H adsorbate last
    assert np.bincount(s.tags).tolist() == [36, 12, 1]
    assert s.tags[-1] == 2 and s.z[-1] == 1
    assert np.array_equal(s.tags == 0, s.fixed)
    assert np.abs(s.forces[s.fixed]).max() > 0  # raw labels, not zeroed by the constraint


def test_tags_rule():
    z = np.array([29, 29, 8, 6, 1, 1])
    fixed = np.array([True, False, False, False, False, False])
    # the slab's free O is not adsorbate only when a slab element follows it
    assert oc20_tags(z, fixed, np.zeros(6, dtype=int)).tolist() == [0, 1, 2, 2, 2, 2]
    z2 = np.array([29, 8, 29, 6, 1])
    assert oc20_tags(z2, fixed[:5], np.zeros(5, dtype=int)).tolist() == [0, 1, 1, 2, 2]
    stored = np.array([0, 1, 1, 2, 2])
    assert oc20_tags(z2, fixed[:5], stored) is stored
    assert oc20_tags(z2, None, np.zeros(5, dtype=int)) is None


@pytest.mark.parametrize("suffix", [".extxyz", ".db"])
def test_extxyz_and_ase_db_round_trip(tmp_path, data_dir, suffix):
    atoms = read(data_dir / "oc20_relax" / "random1000156.traj", index=":2")
    path = tmp_path / f"frames{suffix}"
    write(path, atoms)
    back = read_ase_file(path)
    for s, a in zip(back, atoms, strict=True):
        assert s.energy == pytest.approx(a.get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(s.forces, a.get_forces(apply_constraint=False), atol=1e-9)
        np.testing.assert_allclose(s.pos, a.positions, atol=1e-9)


def test_molecules_have_no_cell_and_splits_follow_the_seed(tmp_path, data_dir):
    d = np.load(data_dir / "rmd17" / "rmd17_ethanol_train_01.npz")
    frames = []
    for r, e, f in zip(d["coords"][:20], d["energies"][:20], d["forces"][:20], strict=True):
        from ase import Atoms

        a = Atoms(numbers=d["nuclear_charges"], positions=r)
        a.calc = SinglePointCalculator(a, energy=float(e), forces=f)
        frames.append(a)
    write(tmp_path / "eth.xyz", frames)
    splits = load_ase(DatasetSpec("ase", path=tmp_path))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (16, 2, 2)
    assert not splits.periodic and splits.train[0].cell is None and splits.train[0].tags is None
    perm = np.random.default_rng(1).permutation(20)
    assert [s.info["frame"] for s in splits.train] == perm[:16].tolist()


def test_ase_needs_a_path():
    with pytest.raises(DataError, match="field 'path'"):
        load_ase(DatasetSpec("ase"))
