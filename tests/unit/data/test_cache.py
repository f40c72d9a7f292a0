import numpy as np
import pytest
import torch

from bench.data.cache import load_cache, prepare_cache
from bench.data.graphs import build_graph
from bench.data.registry import DatasetSpec, load_splits
from bench.errors import DataError


def _spec(root):
    return DatasetSpec("rmd17", data_root=root, molecule="ethanol", n_train=40, n_val=10)


def test_cache_round_trip_with_neighbour_lists(rmd17_root):
    spec = _spec(rmd17_root)
    out = prepare_cache(spec, rmd17_root / "cache" / "eth", cutoff=3.0, max_neighbors=None)
    cached, fresh = load_cache(out, spec), load_splits(spec)
    for k in ("train", "val", "test"):
        a, b = getattr(cached, k), getattr(fresh, k)
        assert [s.id for s in a] == [s.id for s in b]
        for x, y in zip(a, b, strict=True):
            assert x.energy == y.energy and np.array_equal(x.forces, y.forces)
    s = cached.test[0]
    ei, _ = build_graph(torch.tensor(s.pos), torch.zeros(9, dtype=torch.long), 3.0)
    assert np.array_equal(s.info["edge_index"], ei.numpy())
    assert sorted(cached.sources.values()) == sorted(fresh.sources.values())


def test_stale_cache_is_refused(rmd17_root):
    spec = _spec(rmd17_root)
    out = prepare_cache(spec, rmd17_root / "cache" / "eth", cutoff=3.0, max_neighbors=None)
    src = rmd17_root / "rmd17" / "rmd17_ethanol_test_01.npz"
    d = dict(np.load(src))
    d["energies"][0] += 1.0
    np.savez(src, **d)
    with pytest.raises(DataError, match="stale cache: .*rmd17_ethanol_test_01.npz changed"):
        load_cache(out, spec)
    with pytest.raises(DataError, match="stale cache"):
        prepare_cache(spec, out, cutoff=3.0, max_neighbors=None)
    prepare_cache(spec, out, cutoff=3.0, max_neighbors=None, force=True)
    assert len(load_cache(out, spec).train) == 40


def test_other_settings_need_force(rmd17_root):
    spec = _spec(rmd17_root)
    out = prepare_cache(spec, rmd17_root / "c", cutoff=3.0, max_neighbors=None)
    assert prepare_cache(spec, out, cutoff=3.0, max_neighbors=None) == out  # fresh: kept
    with pytest.raises(DataError, match="--force"):
        prepare_cache(spec, out, cutoff=4.0, max_neighbors=None)
    with pytest.raises(DataError, match="another dataset spec"):
        load_cache(out, DatasetSpec("rmd17", data_root=rmd17_root, molecule="ethanol"))


def test_failed_prepare_leaves_nothing(rmd17_root):
    src = rmd17_root / "rmd17" / "rmd17_ethanol_test_01.npz"
    src.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(DataError, match="rmd17_ethanol_test_01.npz"):
        prepare_cache(_spec(rmd17_root), rmd17_root / "cache" / "eth", 3.0, None)
    assert not (rmd17_root / "cache").exists() or not any((rmd17_root / "cache").iterdir())


def test_failure_while_writing_leaves_nothing(rmd17_root, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("bench.data.cache.write_json_atomic", boom)
    with pytest.raises(OSError, match="disk full"):
        prepare_cache(_spec(rmd17_root), rmd17_root / "cache" / "eth", 3.0, None)
    assert list((rmd17_root / "cache").iterdir()) == []


def test_corrupt_cache_is_refused(rmd17_root):
    spec = _spec(rmd17_root)
    out = prepare_cache(spec, rmd17_root / "c", cutoff=3.0, max_neighbors=None)
    db = out / "data.lmdb"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    with pytest.raises(DataError, match="data.lmdb: truncated LMDB"):
        load_cache(out, spec)
    (out / "meta.json").write_text("{")
    with pytest.raises(DataError, match="meta.json: not a dens-bench cache"):
        load_cache(out, spec)
