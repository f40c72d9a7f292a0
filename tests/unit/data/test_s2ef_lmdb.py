import os
import pickle

import lmdb
import numpy as np
import pytest

from bench.data.registry import DatasetSpec, load_splits
from bench.data.s2ef_lmdb import S2efShards, write_s2ef_lmdb
from bench.errors import DataError


def test_lmdb_round_trip(tmp_path, oc20_frames):
    path = write_s2ef_lmdb(tmp_path / "data.lmdb", oc20_frames)
    back = S2efShards([path]).read(range(5))
    for s, ref in zip(back, oc20_frames, strict=True):
        np.testing.assert_allclose(s.pos, ref.pos, atol=1e-5)  # stored as float32
        np.testing.assert_allclose(s.forces, ref.forces, atol=1e-6)
        np.testing.assert_allclose(s.cell, ref.cell, atol=1e-5)
        assert s.energy == pytest.approx(ref.energy, abs=1e-4)
        np.testing.assert_array_equal(s.z, ref.z)
        np.testing.assert_array_equal(s.fixed, ref.fixed)
        np.testing.assert_array_equal(s.tags, ref.tags)
        assert s.pbc.all()


def test_oc20_splits_from_folders_and_from_one_set(tmp_path, oc20_frames):
    for part, frames in (("train", oc20_frames[:3]), ("val_id", oc20_frames[3:])):
        (tmp_path / part).mkdir()
        write_s2ef_lmdb(tmp_path / part / "data.0000.lmdb", frames)
    splits = load_splits(DatasetSpec("oc20", path=tmp_path, max_structures=2))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (2, 2, 0)
    assert splits.energy_kind == "referenced" and splits.periodic
    one = load_splits(DatasetSpec("oc22", path=tmp_path / "train", n_train=1, n_val=1))
    assert (len(one.train), len(one.val), len(one.test)) == (1, 1, 1)
    assert one.energy_kind == "total"
    assert list(one.sources) == [str(tmp_path / "train" / "data.0000.lmdb")]


def _put(path, key: bytes, value: bytes):
    env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(key, value)
    env.close()


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_entry_does_not_run(tmp_path, oc20_frames):
    path = write_s2ef_lmdb(tmp_path / "data.lmdb", oc20_frames[:2])
    marker = tmp_path / "pwned"
    _put(path, b"1", pickle.dumps(_RunsCode(marker)))
    with pytest.raises(DataError, match=r"data.lmdb: field 'entry 1': refusing .*system"):
        S2efShards([path]).read([0, 1])
    assert not marker.exists()


def test_entries_pickled_by_old_torch_geometric(tmp_path, oc20_frames):
    """PyG < 2.0 pickled Data as plain attributes (no ``_store``); fairchem's OC20 LMDBs do."""
    import copyreg
    import io

    import torch
    from torch_geometric.data import Data

    s = oc20_frames[0]
    state = {
        "pos": torch.tensor(s.pos),
        "cell": torch.tensor(s.cell).reshape(1, 3, 3),
        "atomic_numbers": torch.tensor(s.z, dtype=torch.float32),
        "y": s.energy,
        "force": torch.tensor(s.forces),
        "edge_index": None,
    }
    old = Data.__new__(Data)

    class OldPickler(pickle.Pickler):
        def reducer_override(self, obj):
            return (copyreg.__newobj__, (Data,), state) if obj is old else NotImplemented

    buf = io.BytesIO()
    OldPickler(buf, protocol=2).dump(old)
    path = tmp_path / "old.lmdb"
    _put(path, b"0", buf.getvalue())
    (back,) = S2efShards([path]).read([0])
    np.testing.assert_array_equal(back.pos, s.pos)
    assert back.energy == s.energy and back.fixed is None
