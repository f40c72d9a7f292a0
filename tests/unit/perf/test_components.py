"""Graph and loader components on the shipped subsets (tests/data)."""

from __future__ import annotations

import pytest
import torch

from bench.data.cache import load_cache, prepare_cache
from bench.data.graphs import build_graph
from bench.data.registry import load_splits
from bench.data.torch_data import collate, to_data
from bench.perf.datasets import dataset_spec, graph_defaults
from bench.perf.graph import graph_throughput, run_graph_bench
from bench.perf.loader import CachedStructures, loader_throughput, run_loader_bench


def test_dataset_shortcuts_read_the_shipped_subsets(data_dir):
    mols = load_splits(dataset_spec("md17-aspirin", data_dir, 5))
    slabs = load_splits(dataset_spec("oc20-relax", data_dir))
    assert (len(mols.train), len(mols.test), mols.periodic) == (0, 5, False)
    assert (len(slabs.test), slabs.periodic) == (5, True)
    assert graph_defaults("oc20-relax") == (12.0, 20) and graph_defaults("md17-aspirin") == (5.0,
                                                                                          None)
    with pytest.raises(ValueError, match="'qm9'"):
        dataset_spec("qm9", data_dir)


def test_graph_throughput_counts_the_edges_build_graph_makes(data_dir):
    structures = load_splits(dataset_spec("oc20-relax", data_dir)).test
    out = graph_throughput(structures, 12.0, 20, batch_size=2, repeats=2)
    b = collate(structures)
    edge_index, _ = build_graph(b.pos, b.batch, 12.0, 20, b.cell, b.pbc)
    assert out["edges"] == edge_index.shape[1] == 20 * b.num_nodes  # 20 neighbours each
    assert out["atoms"] == b.num_nodes and out["pass_time_s"]["n"] == 2
    assert out["edges_per_s"] == pytest.approx(out["edges"] / out["pass_time_s"]["median"])
    both = run_graph_bench(data_dir, batch_size=4, repeats=1, max_structures=4)["results"]
    assert set(both) == {"molecule", "periodic"} and both["molecule"]["structures"] == 4


def test_cached_structures_equal_the_cache_contents(data_dir, tmp_path):
    spec = dataset_spec("md17-aspirin", data_dir, 6)
    cache = prepare_cache(spec, tmp_path / "c", *graph_defaults("md17-aspirin"))
    data = CachedStructures(cache)
    ref = load_cache(cache).test
    assert len(data) == len(ref) == 6
    for i in (0, 5):
        got, want = data[i], to_data(ref[i])
        assert torch.equal(got.pos, want.pos) and torch.equal(got.forces, want.forces)
    out = loader_throughput(data, workers=0, batch_size=4, batches=4)
    assert out["batch_time_s"]["n"] == 3  # the batches after the first (epochs repeat)
    assert out["structures_per_s"] > 0 and out["startup_s"] > 0
    data.close()


def test_loader_bench_with_a_worker_process(data_dir):
    out = run_loader_bench("oc20-relax", data_dir, workers=(0, 1), batch_size=2, batches=3)
    assert set(out["results"]["by_workers"]) == {"0", "1"}
    assert out["results"]["structures"] == 5 and out["config"]["cutoff"] == 12.0
    with pytest.raises(ValueError, match="batches"):
        loader_throughput([], workers=0, batch_size=1, batches=1)
