"""Data-loading throughput from fairchem S2EF LMDB shards (``bench perf --component loader``).

Structures are read one at a time from the shards (bench.data.s2ef_lmdb, restricted
unpickler), converted to PyG ``Data`` and collated by a torch DataLoader with N worker
processes: the streaming path of OC20/OC22 S2EF data too large to hold in memory. Without
``--lmdb``, a shortcut dataset is first written to a temporary shard in that layout.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torch_geometric.data import Batch, Data

from bench.data.registry import load_splits
from bench.data.s2ef_lmdb import S2efShards, shard_files, write_s2ef_lmdb
from bench.data.torch_data import to_data
from bench.perf.datasets import SHORTCUTS, dataset_spec
from bench.perf.stats import summarize


class ShardStructures(Dataset):
    """Every entry of S2EF LMDB shards (in order) as PyG ``Data``, read lazily; each process
    opens its own read-only LMDB environments."""

    def __init__(self, path: str | Path, dtype: torch.dtype = torch.float32) -> None:
        self.files, self.dtype = shard_files(Path(path)), dtype
        self._len = len(S2efShards(self.files))  # opened again, lazily, in each process
        self._shards: S2efShards | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> Data:
        if self._shards is None or self._pid != os.getpid():
            self._shards, self._pid = S2efShards(self.files), os.getpid()
        return to_data(self._shards.read([index])[0], self.dtype)

    def close(self) -> None:
        """Drop this process's shards, closing their LMDB environments (py-lmdb refuses to
        open an environment twice in one process, so do this before forking workers)."""
        self._shards, self._pid = None, None

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_shards": None, "_pid": None}


def loader_throughput(
    dataset: Dataset, workers: int, batch_size: int, batches: int, seed: int = 0
) -> dict[str, Any]:
    """Iterate ``batches`` shuffled batches (epochs repeat as needed) with ``workers`` worker
    processes. ``startup_s`` is the time to the first batch; ``structures_per_s`` and
    ``batch_time_s`` cover the batches after it (steady state)."""
    if workers < 0 or batch_size < 1 or batches < 2:
        raise ValueError(
            f"need workers >= 0, batch_size >= 1, batches >= 2, got {workers!r}, "
            f"{batch_size!r}, {batches!r}"
        )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=Batch.from_data_list,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
    start = last = time.perf_counter()
    times, structures, atoms, startup = [], 0, 0, None
    while len(times) < batches - 1:
        for batch in loader:
            now = time.perf_counter()
            if startup is None:
                startup = now - start
            else:
                times.append(now - last)
                structures, atoms = structures + batch.num_graphs, atoms + batch.num_nodes
            last = now
            if len(times) == batches - 1:
                break
    return {
        "workers": workers,
        "startup_s": startup,
        "batch_time_s": summarize(times),
        "structures_per_s": structures / sum(times),
        "atoms_per_s": atoms / sum(times),
    }


def run_loader_bench(
    dataset: str,
    data_root: Path,
    lmdb_path: Path | None = None,
    workers: Sequence[int] = (0, 2),
    batch_size: int = 8,
    batches: int = 50,
    max_structures: int | None = None,
) -> dict[str, Any]:
    """Loader throughput per worker count from the S2EF shards at ``lmdb_path`` (a file or a
    folder of ``*.lmdb``), or from a temporary shard of the shortcut ``dataset`` (removed
    afterwards)."""
    config = {
        "dataset": dataset,
        "data_root": str(data_root),
        "workers": list(workers),
        "batch_size": batch_size,
        "batches": batches,
        "max_structures": max_structures,
    }
    if lmdb_path is not None:
        return {
            "config": config | {"lmdb": str(lmdb_path)},
            "results": _per_workers(ShardStructures(lmdb_path), workers, batch_size, batches),
        }
    if dataset not in SHORTCUTS:
        raise ValueError(
            f"without --lmdb, dataset must be one of {sorted(SHORTCUTS)}, got {dataset!r}"
        )
    structures = load_splits(dataset_spec(dataset, data_root, max_structures)).test
    with tempfile.TemporaryDirectory(prefix="bench-perf-lmdb-") as tmp:
        shard = write_s2ef_lmdb(Path(tmp) / "data.lmdb", structures)
        results = _per_workers(ShardStructures(shard), workers, batch_size, batches)
    return {"config": config | {"lmdb": None}, "results": results}


def _per_workers(data: ShardStructures, workers, batch_size, batches) -> dict[str, Any]:
    runs = {}
    for w in workers:
        data.close()
        runs[str(w)] = loader_throughput(data, w, batch_size, batches)
    data.close()
    return {"structures": len(data), "by_workers": runs}
