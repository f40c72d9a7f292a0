"""Data-loading throughput from a prepared LMDB cache (``bench perf --component loader``).

Structures are read one at a time from the cache (``bench data prepare``), converted to PyG
``Data`` and collated by a torch DataLoader with N worker processes: the end-to-end path a
streaming loader takes for data too large to hold in memory.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lmdb
import torch
from torch.utils.data import DataLoader, Dataset
from torch_geometric.data import Batch, Data

from bench.data.cache import check_fresh, prepare_cache, read_meta, read_structure
from bench.data.s2ef_lmdb import open_lmdb
from bench.data.torch_data import to_data
from bench.perf.datasets import SHORTCUTS, dataset_spec, graph_defaults
from bench.perf.stats import summarize


class CachedStructures(Dataset):
    """Every structure of a prepared cache (all splits, in order) as PyG ``Data``, read lazily;
    each process opens its own read-only LMDB environment."""

    def __init__(self, cache_dir: str | Path, dtype: torch.dtype = torch.float32) -> None:
        self.cache_dir, self.dtype = Path(cache_dir), dtype
        meta = read_meta(self.cache_dir)
        check_fresh(self.cache_dir, meta)
        self.keys = [(split, i) for split, n in meta["counts"].items() for i in range(n)]
        self._env: lmdb.Environment | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> Data:
        if self._env is None or self._pid != os.getpid():
            self._env, self._pid = open_lmdb(self.cache_dir / "data.lmdb"), os.getpid()
        split, i = self.keys[index]
        with self._env.begin() as txn:
            return to_data(read_structure(txn, self.cache_dir, split, i), self.dtype)

    def close(self) -> None:
        """Close this process's LMDB environment (before forking workers that open theirs)."""
        if self._env is not None and self._pid == os.getpid():
            self._env.close()
        self._env, self._pid = None, None

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_env": None, "_pid": None}


def loader_throughput(
    dataset: Dataset, workers: int, batch_size: int, batches: int, seed: int = 0
) -> dict[str, Any]:
    """Iterate ``batches`` shuffled batches (epochs repeat as needed) with ``workers`` worker
    processes. ``startup_s`` is the time to the first batch; ``structures_per_s`` and
    ``batch_time_s`` cover the batches after it (steady state)."""
    if workers < 0 or batch_size < 1 or batches < 2:
        raise ValueError(f"need workers >= 0, batch_size >= 1, batches >= 2, got {workers!r}, "
                         f"{batch_size!r}, {batches!r}")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        collate_fn=Batch.from_data_list, persistent_workers=workers > 0,
                        generator=torch.Generator().manual_seed(seed))
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
    return {"workers": workers, "startup_s": startup, "batch_time_s": summarize(times),
            "structures_per_s": structures / sum(times), "atoms_per_s": atoms / sum(times)}


def run_loader_bench(
    dataset: str, data_root: Path, cache_dir: Path | None = None,
    workers: Sequence[int] = (0, 2), batch_size: int = 8, batches: int = 50,
    max_structures: int | None = None,
) -> dict[str, Any]:
    """Loader throughput per worker count from ``cache_dir`` (a prepared cache), or from a
    temporary cache of the shortcut ``dataset`` built first (removed afterwards)."""
    config = {"dataset": dataset, "data_root": str(data_root), "workers": list(workers),
              "batch_size": batch_size, "batches": batches, "max_structures": max_structures}
    if cache_dir is not None:
        return {"config": config | {"cache": str(cache_dir)},
                "results": _per_workers(CachedStructures(cache_dir), workers, batch_size,
                                        batches)}
    if dataset not in SHORTCUTS:
        raise ValueError(f"without a cache, dataset must be one of {sorted(SHORTCUTS)}, "
                         f"got {dataset!r}")
    spec = dataset_spec(dataset, data_root, max_structures)
    cutoff, cap = graph_defaults(dataset)
    with tempfile.TemporaryDirectory(prefix="bench-perf-cache-") as tmp:
        cache = prepare_cache(spec, Path(tmp) / "cache", cutoff, cap)
        results = _per_workers(CachedStructures(cache), workers, batch_size, batches)
    return {"config": config | {"cache": None, "cutoff": cutoff, "max_neighbors": cap},
            "results": results}


def _per_workers(data: CachedStructures, workers, batch_size, batches) -> dict[str, Any]:
    runs = {}
    for w in workers:
        data.close()
        runs[str(w)] = loader_throughput(data, w, batch_size, batches)
    data.close()
    return {"structures": len(data), "by_workers": runs}
