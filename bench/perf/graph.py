"""Neighbour-list throughput (``bench perf --component graph``): molecules and periodic slabs.

Each dataset's structures are collated into batches once; then ``bench.data.graphs.build_graph``
(the function every backbone calls) runs over all batches ``repeats`` times, with the cutoff
and neighbour cap of the paper's backbones for that dataset (bench.perf.datasets.graph_defaults).
``supercell`` replicates each periodic frame (e.g. 6 x 6 x 1 OC20 slabs: 1764 atoms from 49).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.data.graphs import build_graph
from bench.data.registry import load_splits
from bench.data.structure import Structure
from bench.data.torch_data import collate
from bench.perf.datasets import dataset_spec, graph_defaults
from bench.perf.stats import summarize

#: kind of structure -> the perf dataset shortcut measured for it
GRAPH_DATASETS = {"molecule": "md17-aspirin", "periodic": "oc20-relax"}


def graph_throughput(
    structures: list,
    cutoff: float,
    max_neighbors: int | None,
    batch_size: int,
    repeats: int,
    device: str = "cpu",
) -> dict[str, Any]:
    """Time ``build_graph`` over ``structures`` in batches of ``batch_size``, ``repeats`` passes.

    Returns ``structures_per_s``, ``atoms_per_s``, ``edges_per_s`` (medians over passes),
    ``pass_time_s`` (summary, s), ``edges_per_atom`` and the settings used.
    """
    if batch_size < 1 or repeats < 1 or not structures:
        raise ValueError(
            f"need structures, batch_size >= 1 and repeats >= 1, got "
            f"{len(structures)}, {batch_size!r}, {repeats!r}"
        )
    batches = [
        collate(structures[i : i + batch_size]).to(device)
        for i in range(0, len(structures), batch_size)
    ]
    times, edges = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        edges = sum(_edges(b, cutoff, max_neighbors) for b in batches)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    pass_time = summarize(times)
    atoms = sum(b.num_nodes for b in batches)
    return {
        "structures": len(structures),
        "atoms": atoms,
        "edges": edges,
        "edges_per_atom": edges / atoms,
        "cutoff": cutoff,
        "max_neighbors": max_neighbors,
        "batch_size": batch_size,
        "pass_time_s": pass_time,
        "structures_per_s": len(structures) / pass_time["median"],
        "atoms_per_s": atoms / pass_time["median"],
        "edges_per_s": edges / pass_time["median"],
    }


def _edges(batch, cutoff: float, max_neighbors: int | None) -> int:
    edge_index, _ = build_graph(
        batch.pos, batch.batch, cutoff, max_neighbors, batch.cell, batch.pbc
    )
    return int(edge_index.shape[1])


def run_graph_bench(
    data_root: Path,
    batch_size: int = 8,
    repeats: int = 5,
    max_structures: int | None = 64,
    device: str = "cpu",
    supercell: tuple[int, int, int] = (1, 1, 1),
) -> dict[str, Any]:
    """Graph throughput for molecules (rMD17 aspirin) and periodic cells (OC20 frames, each
    repeated ``supercell`` times along its lattice vectors)."""
    results = {}
    for kind, shortcut in GRAPH_DATASETS.items():
        structures = load_splits(dataset_spec(shortcut, data_root, max_structures)).test
        if kind == "periodic":
            structures = [repeat_cell(s, supercell) for s in structures]
        cutoff, cap = graph_defaults(shortcut)
        results[kind] = {"dataset": shortcut} | graph_throughput(
            structures, cutoff, cap, batch_size, repeats, device
        )
    config = {
        "data_root": str(data_root),
        "batch_size": batch_size,
        "repeats": repeats,
        "max_structures": max_structures,
        "device": device,
        "supercell": list(supercell),
    }
    return {"config": config, "results": results}


def repeat_cell(s: Structure, reps: tuple[int, int, int]) -> Structure:
    """``s`` repeated ``reps[k]`` times along lattice vector k (labels tiled, energy scaled)."""
    if len(reps) != 3 or min(reps) < 1:
        raise ValueError(f"supercell needs three positive repeats, got {reps!r}")
    if tuple(reps) == (1, 1, 1):
        return s
    offsets = np.array(np.meshgrid(*map(np.arange, reps), indexing="ij")).reshape(3, -1).T
    n = len(offsets)
    return Structure(
        z=_tile(s.z, n),
        pos=(s.pos[None] + (offsets @ s.cell)[:, None]).reshape(-1, 3),
        energy=s.energy * n,
        forces=_tile(s.forces, n),
        id=f"{s.id}*{'x'.join(map(str, reps))}",
        cell=s.cell * np.array(reps)[:, None],
        pbc=s.pbc,
        fixed=_tile(s.fixed, n),
        tags=_tile(s.tags, n),
        info=s.info,
    )


def _tile(a: np.ndarray | None, n: int) -> np.ndarray | None:
    """``a`` [k, ...] stacked ``n`` times along its first axis: [n * k, ...]."""
    return None if a is None else np.tile(a, (n,) + (1,) * (a.ndim - 1))
