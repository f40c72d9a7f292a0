"""Every kind of bad input gives one DataError naming the file and the field."""

from __future__ import annotations

import pickle

import lmdb
import numpy as np
import pytest
import torch
from ase.io import read, write

from bench.data.registry import DatasetSpec, load_splits
from bench.data.s2ef_lmdb import write_s2ef_lmdb
from bench.errors import DataError

ETH = "rmd17_ethanol_test_01.npz"


def _raises(spec: DatasetSpec, file: str, field: str | None, match: str) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        load_splits(spec)
    assert info.value.path is not None and info.value.path.endswith(file)
    assert info.value.field == field or (field is not None and field in (info.value.field or ""))
    assert file in str(info.value)
    return info.value


def _rmd17(root):
    return DatasetSpec("rmd17", data_root=root, molecule="ethanol", n_train=10, n_val=5)


def _edit_npz(path, **changes):
    d = dict(np.load(path))
    for key, fn in changes.items():
        if fn is None:
            del d[key]
        else:
            d[key] = fn(d[key])
    np.savez(path, **d)


def _nan_at(i):
    def fn(a):
        a = a.astype(float).copy()
        a.reshape(-1)[i] = np.nan if i % 2 == 0 else np.inf
        return a

    return fn


@pytest.mark.parametrize(
    ("changes", "field", "match"),
    [
        ({"old_forces": None}, "old_forces", "missing key"),
        ({"coords": lambda a: a[:, :, :2]}, "coords", r"expected shape \(\*, 9, 3\)"),
        ({"old_energies": lambda a: a[:-1]}, "old_energies", r"expected shape \(60,\)"),
        ({"coords": _nan_at(4)}, "coords", "NaN or inf"),
        ({"old_energies": _nan_at(3)}, "old_energies", "NaN or inf"),
        ({"old_forces": _nan_at(10)}, "old_forces", "NaN or inf"),
        ({"nuclear_charges": lambda a: a * 0}, "nuclear_charges", "outside 1..118"),
    ],
)
def test_bad_npz_fields(rmd17_root, changes, field, match):
    _edit_npz(rmd17_root / "rmd17" / ETH, **changes)
    _raises(_rmd17(rmd17_root), ETH, field, match)


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda b: b[: len(b) // 2], "not a readable npz"),
        (lambda b: b[:100], "not a readable npz"),
        (lambda b: bytes(range(256)) * 8, "not a readable npz"),
        (lambda b: b"", "empty file"),
    ],
)
def test_truncated_corrupt_or_empty_npz(rmd17_root, mangle, match):
    path = rmd17_root / "rmd17" / ETH
    path.write_bytes(mangle(path.read_bytes()))
    _raises(_rmd17(rmd17_root), ETH, None, match)


def test_unknown_md17_molecule(md17_root):
    spec = DatasetSpec("md17", data_root=md17_root, molecule="aspirine")
    _raises(spec, "md17", "molecule", "Did you mean 'aspirin'")


@pytest.fixture
def xyz(tmp_path, data_dir):
    atoms = read(data_dir / "oc20_relax" / "random1000156.traj", index=":3")
    path = tmp_path / "frames.xyz"
    write(path, atoms, format="extxyz")
    return path


def _ase(path):
    return DatasetSpec("ase", path=path, n_train=1, n_val=0)


def test_truncated_and_empty_xyz(xyz):
    xyz.write_text(xyz.read_text()[:-200])
    _raises(_ase(xyz), "frames.xyz", None, "ASE cannot read it")
    xyz.write_text("")
    _raises(_ase(xyz), "frames.xyz", None, "empty file")


def test_xyz_without_energy_or_with_nan(xyz):
    atoms = read(xyz, index=":")
    atoms[1].calc.results["forces"][3, 1] = np.nan
    write(xyz, atoms, format="extxyz")
    _raises(_ase(xyz), "frames.xyz", "forces (frame 1)", "NaN or inf")
    for a in atoms:
        a.calc = None
    write(xyz, atoms, format="extxyz")
    _raises(_ase(xyz), "frames.xyz", "energy (frame 0)", "missing")


@pytest.fixture
def lmdb_file(tmp_path, oc20_frames):
    return write_s2ef_lmdb(tmp_path / "data.lmdb", oc20_frames[:3])


def _oc20(path):
    return DatasetSpec("oc20", path=path, n_train=3, n_val=0)


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda b: b[: len(b) // 2], "truncated LMDB"),
        (lambda b: b[:4096], "not a readable LMDB"),
        (lambda b: bytes(range(256)) * 64, "not a readable LMDB"),
        (lambda b: b"", "empty file"),
    ],
)
def test_truncated_corrupt_or_empty_lmdb(lmdb_file, mangle, match):
    lmdb_file.write_bytes(mangle(lmdb_file.read_bytes()))
    _raises(_oc20(lmdb_file), "data.lmdb", None, match)


def _rewrite_entry(path, key, edit):
    from bench.data.safe_pickle import restricted_loads

    env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        data = restricted_loads(txn.get(key.encode()))
        edit(data)
        txn.put(key.encode(), pickle.dumps(data))
    env.close()


@pytest.mark.parametrize(
    ("edit", "field", "match"),
    [
        (lambda d: delattr(d, "force"), "entry 1: force", "missing"),
        (lambda d: setattr(d, "force", d.force[:, :2]), "entry 1: force", "expected shape"),
        (lambda d: d.pos.__setitem__((0, 0), torch.nan), "entry 1: pos", "NaN or inf"),
        (lambda d: setattr(d, "y", float("inf")), "entry 1: y", "NaN or inf"),
        (lambda d: setattr(d, "tags", d.tags[:-1]), "entry 1: tags", "expected shape"),
    ],
)
def test_bad_lmdb_entries(lmdb_file, edit, field, match):
    _rewrite_entry(lmdb_file, "1", edit)
    _raises(_oc20(lmdb_file), "data.lmdb", field, match)


def test_lmdb_with_foreign_keys(lmdb_file):
    env = lmdb.open(str(lmdb_file), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"7", txn.get(b"0"))
    env.close()
    _raises(_oc20(lmdb_file), "data.lmdb", "keys", "expected keys '0'..'N-1'")


def test_garbled_pickle(lmdb_file):
    env = lmdb.open(str(lmdb_file), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"2", txn.get(b"2")[:-50])
    env.close()
    _raises(_oc20(lmdb_file), "data.lmdb", "entry 2", "corrupt pickle")
