"""Splits read on demand: a Sequence of structures over a reader, and of PyG ``Data`` over it.

A split of S2EF-2M (2M structures) or All+MD (172M) cannot be held as a list. A
:class:`LazyStructures` holds only the reader (which opens its files per process) and its
indices (a ``range``: O(1) memory, or an int64 array [n] for a random split); each
``split[i]`` reads, unpickles and checks one entry, so resident memory does not grow with the
dataset and nothing is cached between reads. It pickles without open file handles, so torch
DataLoader workers (fork or spawn) each open their own.

Passes over a whole split (normalisation statistics, split checks) take :func:`bounded`: an
in-memory list as it is, a lazy split of more than MAX_PASS structures as a seeded sample of
MAX_PASS (:func:`pass_note` says which, for stats.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from torch_geometric.data import Data

from bench.data.structure import Structure
from bench.data.torch_data import to_data

#: a whole-split pass over a lazy split reads at most this many structures
MAX_PASS = 2_000
#: seed of the sample of :func:`bounded`
PASS_SEED = 0


class Reader(Protocol):
    """What a lazy split reads from: one checked structure per global index, and the source
    file of each index without reading it."""

    def get(self, index: int) -> Structure: ...

    def sources(self, indices) -> list[str]: ...


class LazyStructures(Sequence[Structure]):
    """The structures ``reader.get(indices[i])``, read (and checked) at each access.

    Args:
        reader: e.g. bench.data.s2ef_lmdb.S2efShards.
        indices: global indices into the reader: a ``range``, or int [n] (kept as int64).
    """

    def __init__(self, reader: Reader, indices: range | np.ndarray) -> None:
        self.reader = reader
        if not isinstance(indices, range):
            indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return LazyStructures(self.reader, self.indices[i])
        return self.reader.get(int(self.indices[i]))

    def sources(self) -> list[str]:
        """The source file of each structure (its ``info["source"]``), read from no entry."""
        return self.reader.sources(self.indices)

    def subset(self, positions) -> LazyStructures:
        """The structures at ``positions`` (int [k], indices into this sequence)."""
        picked = [self.indices[int(p)] for p in np.asarray(positions).reshape(-1)]
        return LazyStructures(self.reader, np.array(picked, dtype=np.int64))


class LazyData(Sequence[Data]):
    """``to_data(structures[i], dtype)`` at each access (slices give lists)."""

    def __init__(self, structures: Sequence[Structure], dtype: torch.dtype) -> None:
        self.structures, self.dtype = structures, dtype

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [to_data(s, self.dtype) for s in self.structures[i]]
        return to_data(self.structures[i], self.dtype)


def bounded(items: Sequence[Structure], limit: int | None = None) -> Sequence[Structure]:
    """``items`` when a list or at most ``limit`` (default MAX_PASS) long, else a seeded
    sample of ``limit`` of them (``numpy.random.default_rng(PASS_SEED).choice``, without
    replacement, in file order)."""
    limit = MAX_PASS if limit is None else limit
    if isinstance(items, list) or len(items) <= limit:
        return items
    pick = np.random.default_rng(PASS_SEED).choice(len(items), limit, replace=False)
    return items.subset(np.sort(pick))


def pass_note(items: Sequence[Structure], used: Sequence[Structure]) -> dict:
    """``{"structures", "of", "kind"}``: what a whole-split pass over ``items`` read."""
    kind = "all" if len(used) == len(items) else f"seeded sample (seed {PASS_SEED})"
    return {"structures": len(used), "of": len(items), "kind": kind}
