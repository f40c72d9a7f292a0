"""The lazy S2EF LMDB reader (bench.data.lazy, bench.data.s2ef_lmdb) and the checksum cache."""

import json
import os
import pickle

import lmdb
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Batch

from bench.data import checksums, lazy, s2ef_lmdb
from bench.data.lazy import LazyData, LazyStructures
from bench.data.oc20_subsplits import subsplit_of, subsplits_of
from bench.data.registry import DatasetSpec, load_splits
from bench.data.s2ef_lmdb import S2efShards, write_s2ef_lmdb
from bench.errors import BenchError, DataError


def _shards(folder, frames, sizes):
    """``frames`` written as consecutive shards of ``sizes`` entries in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    start = 0
    for k, size in enumerate(sizes):
        write_s2ef_lmdb(folder / f"data.{k:04d}.lmdb", frames[start : start + size])
        start += size
    return folder


def _jittered(frames, n):
    """``n`` distinct structures: the shipped frames in turn, positions shifted by 1e-3 * i."""
    out = []
    for i in range(n):
        s = frames[i % len(frames)]
        out.append(type(s)(**{**vars(s), "pos": s.pos + 1e-3 * i, "energy": s.energy + i}))
    return out


def _same(a, b):
    for name in ("z", "pos", "forces", "cell", "fixed", "tags"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.energy, a.id, a.info) == (b.energy, b.id, b.info)


def test_lazy_split_equals_the_eager_read_entry_for_entry(tmp_path, oc20_frames):
    frames = _jittered(oc20_frames, 7)
    _shards(tmp_path / "train", frames, (3, 4))
    split = load_splits(DatasetSpec("oc20", path=tmp_path)).train
    assert isinstance(split, LazyStructures) and len(split) == 7
    assert split.indices == range(7)  # one folder: no memory per entry
    eager = S2efShards(sorted((tmp_path / "train").glob("*.lmdb"))).read(range(7))
    for lazy_s, eager_s, ref in zip(split, eager, frames, strict=True):
        _same(lazy_s, eager_s)
        np.testing.assert_allclose(lazy_s.pos, ref.pos, atol=1e-5)  # stored as float32
    assert [s.id for s in split[5:]] == ["data.0001.lmdb:2", "data.0001.lmdb:3"]


def test_max_structures_and_random_split_select_without_reading(tmp_path, oc20_frames):
    _shards(tmp_path / "train", _jittered(oc20_frames, 7), (3, 4))
    _shards(tmp_path / "val_id", oc20_frames[:2], (2,))
    _shards(tmp_path / "val_ood_ads", oc20_frames[:3], (3,))
    split = load_splits(DatasetSpec("oc20", path=tmp_path, max_structures=2))
    assert [s.id for s in split.val] == ["data.0000.lmdb:0", "data.0000.lmdb:1"] * 2
    assert ["val_ood_ads" in s.info["source"] for s in split.val] == [False] * 2 + [True] * 2
    assert (
        subsplits_of(split.val)
        == [subsplit_of(s) for s in split.val]
        == ["id"] * 2 + ["ood_ads"] * 2
    )
    one = load_splits(DatasetSpec("oc20", path=tmp_path / "train", n_train=4, n_val=1))
    assert sorted(
        one.train.indices.tolist() + one.val.indices.tolist() + one.test.indices.tolist()
    ) == list(range(7))


def test_lazy_data_through_dataloader_workers(tmp_path, oc20_frames):
    _shards(tmp_path / "train", _jittered(oc20_frames, 6), (2, 4))
    data = LazyData(load_splits(DatasetSpec("oc20", path=tmp_path)).train, torch.float32)
    loader = DataLoader(data, batch_size=2, num_workers=2, collate_fn=Batch.from_data_list)
    got = torch.cat([b.pos for b in loader])
    assert torch.equal(got, torch.cat([data[i].pos for i in range(6)]))
    copy = pickle.loads(pickle.dumps(data))  # what a spawned worker receives
    assert copy.structures.reader._envs == {} and torch.equal(copy[5].pos, data[5].pos)


def _reachable(obj) -> int:
    """Python objects reachable from ``obj`` through attributes and containers (numpy
    arrays and LMDB environments count as one each)."""
    seen, todo = set(), [obj]
    while todo:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, dict):
            todo += [*o.keys(), *o.values()]
        elif isinstance(o, list | tuple | set):
            todo += list(o)
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            todo.append(vars(o))
    return len(seen)


def test_split_holds_no_per_entry_objects(tmp_path, oc20_frames):
    sizes = {}
    for n in (4, 24):
        split = load_splits(
            DatasetSpec(
                "oc20",
                path=_shards(
                    tmp_path / f"{n}" / "train", _jittered(oc20_frames, n), (n // 2, n // 2)
                ).parent,
            )
        ).train
        before = _reachable(split)
        assert sum(s.n_atoms for s in split) == 49 * n  # a full pass
        sizes[n] = (before, _reachable(split))
    assert sizes[4][0] == sizes[4][1] == sizes[24][0] == sizes[24][1]


def _nan_pos(path, key: bytes):
    env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        data = pickle.loads(txn.get(key))
        data.pos[0, 0] = torch.nan
        txn.put(key, pickle.dumps(data))
    env.close()


def test_bad_entry_met_mid_run_fails_the_run_naming_shard_and_key(
    tmp_path, oc20_frames, monkeypatch
):
    from bench.config import resolve_config
    from bench.records import read_record
    from bench.train.run import run_training

    monkeypatch.setattr(s2ef_lmdb, "CHECK_AHEAD", 0)
    monkeypatch.setattr(lazy, "MAX_PASS", 1)
    root = tmp_path / "oc20"
    _shards(root / "train", _jittered(oc20_frames, 4), (4,))
    for part in ("val", "test"):
        _shards(root / part, oc20_frames[:1], (1,))
    sampled = int(lazy.bounded(load_splits(DatasetSpec("oc20", path=root)).train).indices[0])
    bad = (sampled + 1) % 4
    _nan_pos(root / "train" / "data.0000.lmdb", str(bad).encode())
    cfg = resolve_config(
        "schnet",
        "none",
        "oc20",
        "ci",
        "paper-v1",
        {"data.path": str(root), "results": str(tmp_path / "runs"), "train.max_steps": 2},
        ["train.batch_size=2", "data.max_structures=null"],
    )
    with pytest.raises(DataError, match=rf"data.0000.lmdb: field 'entry {bad}: pos'") as info:
        run_training(cfg)
    assert isinstance(info.value, BenchError)  # the CLI's one line and exit 2
    record = read_record(tmp_path / "runs" / cfg.run_id)
    assert record.status == "failed" and f"entry {bad}: pos" in record.failure
    stats = json.loads((tmp_path / "runs" / cfg.run_id / "stats.json").read_text())
    assert stats["train_stats_pass"] == {"structures": 1, "of": 4, "kind": "seeded sample (seed 0)"}


def test_missing_middle_key_is_named_when_read(tmp_path, oc20_frames):
    path = write_s2ef_lmdb(tmp_path / "data.lmdb", oc20_frames[:4])
    env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"9", txn.pop(b"2"))
    env.close()
    shards = S2efShards([path])
    assert len(shards) == 4 and shards.get(3).id == "data.lmdb:3"
    with pytest.raises(DataError, match="data.lmdb: field 'entry 2': missing key"):
        shards.get(2)


def test_statistics_of_a_large_lazy_split_come_from_a_recorded_sample(
    tmp_path, oc20_frames, monkeypatch
):
    from bench.config import resolve_config
    from bench.train.setup import normalization

    monkeypatch.setattr(lazy, "MAX_PASS", 3)
    _shards(tmp_path / "train", _jittered(oc20_frames, 8), (8,))
    train = load_splits(DatasetSpec("oc20", path=tmp_path)).train
    cfg = resolve_config("schnet", "none", "oc20", "ci", "paper-v1", {"data.path": "x"}, [])
    norm = normalization(cfg.data, train)
    assert norm["train_stats_pass"] == {"structures": 3, "of": 8, "kind": "seeded sample (seed 0)"}
    picked = lazy.bounded(train)
    assert norm["train_stats"]["n_structures"] == 3
    mean = np.mean([s.energy for s in picked])
    assert norm["train_stats"]["energy_mean_ev"] == pytest.approx(mean)
    assert normalization(cfg.data, list(train))["train_stats_pass"]["kind"] == "all"


def test_checksum_cache_hits_until_size_or_mtime_change(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    hashed = []
    real = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda p: hashed.append(p) or real(p))
    f = tmp_path / "a.lmdb"
    f.write_bytes(b"one")
    first = checksums.sha256_files([f])
    assert checksums.sha256_files([f]) == first and hashed == [f]  # hit: not read again
    assert (tmp_path / "cache" / "dens-bench" / "sha256.json").is_file()
    st = f.stat()
    f.write_bytes(b"two")  # same size; mtime put back: the cache cannot tell
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert checksums.sha256_files([f]) == first and len(hashed) == 1
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # mtime moved: hashed again
    assert checksums.sha256_files([f]) == {str(f): real(f)} != first and len(hashed) == 2
    checksums.cache_path().write_text("{garbled")
    assert checksums.sha256_files([f]) == {str(f): real(f)} and len(hashed) == 3
