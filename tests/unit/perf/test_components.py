"""Graph and loader components on the shipped subsets (tests/data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data.graphs import build_graph
from bench.data.registry import load_splits
from bench.data.s2ef_lmdb import write_s2ef_lmdb
from bench.data.torch_data import collate
from bench.errors import DataError
from bench.perf.datasets import dataset_spec, graph_defaults
from bench.perf.graph import graph_throughput, repeat_cell, run_graph_bench
from bench.perf.loader import ShardStructures, loader_throughput, run_loader_bench


def test_dataset_shortcuts_read_the_shipped_subsets(data_dir):
    mols = load_splits(dataset_spec("md17-aspirin", data_dir, 5))
    slabs = load_splits(dataset_spec("oc20-relax", data_dir))
    assert (len(mols.train), len(mols.test), mols.periodic) == (0, 5, False)
    assert (len(slabs.test), slabs.periodic) == (5, True)
    assert graph_defaults("oc20-relax") == (12.0, 20) and graph_defaults("md17-aspirin") == (
        5.0,
        None,
    )
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


def test_supercell_graph_is_the_cell_graph_repeated(data_dir):
    """Translational symmetry: each of the 6 x 6 x 1 copies of an atom has its neighbours."""
    s = load_splits(dataset_spec("oc20-relax", data_dir, 1)).test[0]
    big = repeat_cell(s, (6, 6, 1))
    assert big.n_atoms == 36 * s.n_atoms and np.allclose(big.cell[2], s.cell[2])
    small_b, big_b = collate([s], torch.float64), collate([big], torch.float64)
    small = build_graph(small_b.pos, small_b.batch, 6.0, None, small_b.cell, small_b.pbc)[0]
    edges = build_graph(big_b.pos, big_b.batch, 6.0, None, big_b.cell, big_b.pbc)[0]
    degree = torch.bincount(edges[1], minlength=big.n_atoms).reshape(36, s.n_atoms)
    assert torch.equal(degree, torch.bincount(small[1]).expand(36, -1))
    with pytest.raises(ValueError, match="three positive"):
        repeat_cell(s, (2, 0, 1))


def test_shard_structures_equal_the_shard_contents(data_dir, tmp_path):
    ref = load_splits(dataset_spec("oc20-relax", data_dir)).test
    data = ShardStructures(write_s2ef_lmdb(tmp_path / "s.lmdb", ref))
    assert len(data) == len(ref) == 5
    for i in (0, 4):
        got = data[i]
        torch.testing.assert_close(got.pos, torch.tensor(ref[i].pos, dtype=torch.float32))
        torch.testing.assert_close(got.forces, torch.tensor(ref[i].forces, dtype=torch.float32))
    out = loader_throughput(data, workers=0, batch_size=2, batches=4)
    assert out["batch_time_s"]["n"] == 3  # the batches after the first (epochs repeat)
    assert out["structures_per_s"] > 0 and out["startup_s"] > 0


def test_loader_bench_with_a_worker_process(data_dir):
    out = run_loader_bench("oc20-relax", data_dir, workers=(0, 1), batch_size=2, batches=3)
    assert set(out["results"]["by_workers"]) == {"0", "1"}
    assert out["results"]["structures"] == 5 and out["config"]["lmdb"] is None
    with pytest.raises(ValueError, match="batches"):
        loader_throughput([], workers=0, batch_size=1, batches=1)
    with pytest.raises(DataError, match="none.lmdb: LMDB file or folder not found"):
        run_loader_bench("oc20-relax", data_dir, data_dir / "none.lmdb")
