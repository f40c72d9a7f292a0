"""Deterministic training batches: the order of epoch e is a pure function of (seed, e)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data

#: stream ids of derived_seed
DATA_STREAM, METHOD_STREAM = 0, 1


def derived_seed(seed: int, *streams: int) -> int:
    """A 63-bit seed for the random stream ``streams`` (non-negative ints) of a run seeded
    ``seed``, mixed by numpy's SeedSequence (independent streams from one seed)."""
    entropy = [int(seed) % 2**32, *(int(k) for k in streams)]
    state = np.random.SeedSequence(entropy).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


class EpochBatches:
    """Shuffled mini-batches of pre-converted ``Data`` objects, addressable by (epoch, index).

    Resuming needs no iterator state: batch ``(e, i)`` is always the same structures.

    Args:
        data: structures as PyG ``Data`` (bench.data.torch_data.to_data).
        batch_size: structures per batch (>= 1).
        seed: run seed. drop_last: drop the incomplete last batch of an epoch (when the
            epoch has at least one full batch).
    """

    def __init__(self, data: Sequence[Data], batch_size: int, seed: int, drop_last: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if len(data) == 0:
            raise ValueError("no training structures")
        self.data, self.batch_size, self.seed = list(data), int(batch_size), int(seed)
        full, rest = divmod(len(self.data), self.batch_size)
        self.steps_per_epoch = full if drop_last and full > 0 else full + (rest > 0)
        self._cache: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.steps_per_epoch

    def order(self, epoch: int) -> torch.Tensor:
        """The permutation [n] of structure indices for ``epoch``."""
        if self._cache is None or self._cache[0] != epoch:
            gen = torch.Generator().manual_seed(derived_seed(self.seed, DATA_STREAM, epoch))
            self._cache = (epoch, torch.randperm(len(self.data), generator=gen))
        return self._cache[1]

    def batch(self, epoch: int, index: int) -> Batch:
        """Batch ``index`` (0-based, < steps_per_epoch) of ``epoch``."""
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"batch index {index} out of range [0, {self.steps_per_epoch})")
        idx = self.order(epoch)[index * self.batch_size:(index + 1) * self.batch_size]
        return Batch.from_data_list([self.data[i] for i in idx.tolist()])
