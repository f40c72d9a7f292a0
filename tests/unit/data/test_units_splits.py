import numpy as np
import pytest

from bench.data.md17 import load_md17
from bench.data.registry import DatasetSpec
from bench.data.splits import random_split
from bench.data.units import KCAL_PER_MOL_TO_EV
from bench.errors import DataError


def test_kcal_per_mol_to_ev():
    assert KCAL_PER_MOL_TO_EV == pytest.approx(0.0433641, abs=5e-8)
    assert 1000 * KCAL_PER_MOL_TO_EV == pytest.approx(43.364, abs=1e-3)  # meV, as the paper


def test_md17_reader_converts_units(md17_root):
    spec = DatasetSpec("md17", data_root=md17_root, molecule="aspirin", n_train=50, n_val=10)
    splits = load_md17(spec)
    raw = np.load(md17_root / "md17" / "md17_aspirin.npz")
    s = splits.train[0]
    i = s.info["frame"]
    assert s.energy == pytest.approx(raw["E"][i, 0] * 0.0433641, rel=1e-7)
    np.testing.assert_allclose(s.forces, raw["F"][i] * 0.0433641, rtol=1e-6)
    np.testing.assert_array_equal(s.pos, raw["R"][i])
    assert s.id == f"md17/aspirin:index={i}"
    assert (len(splits.train), len(splits.val), len(splits.test)) == (50, 10, 92 - 60)


def test_protocol_indices_are_pinned():
    """950/50/rest from numpy default_rng(seed=1): the same indices on every call."""
    tr, va, te = random_split(9633, 950, 50, seed=1)
    assert tr[:8].tolist() == [1339, 8754, 8840, 8417, 6895, 15, 6619, 9074]
    assert (len(tr), len(va), len(te)) == (950, 50, 8633)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(9633))
    again = random_split(9633, 950, 50, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again, strict=True))
    assert not np.array_equal(random_split(9633, 950, 50, seed=2)[0], tr)


def test_md17_split_is_reproducible(md17_root):
    spec = DatasetSpec("md17", data_root=md17_root, molecule="aspirin", n_train=50, n_val=10)
    a, b = load_md17(spec), load_md17(spec)
    assert [s.id for s in a.train + a.val + a.test] == [s.id for s in b.train + b.val + b.test]
    frames = [s.info["frame"] for s in a.train]
    assert frames == np.random.default_rng(1).permutation(92)[:50].tolist()


def test_split_larger_than_data_is_an_error():
    with pytest.raises(DataError, match="n_train/n_val"):
        random_split(10, 950, 50, seed=1, where="x.npz")
