"""Deterministic training batches: the order of epoch e is a pure function of (seed, e), and
each data-parallel rank takes its slice of the same global batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data

#: stream ids of derived_seed
DATA_STREAM, METHOD_STREAM, TORCH_STREAM = 0, 1, 2


def derived_seed(seed: int, *streams: int) -> int:
    """A 63-bit seed for the random stream ``streams`` (non-negative ints) of a run seeded
    ``seed``, mixed by numpy's SeedSequence (independent streams from one seed)."""
    entropy = [int(seed) % 2**32, *(int(k) for k in streams)]
    state = np.random.SeedSequence(entropy).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def corruption_generator(seed: int, rank: int = 0) -> torch.Generator:
    """The CPU generator of the method's corruption on data-parallel ``rank``.

    Ranks draw independent streams, so each structure is still a DeNS task with probability
    p_dens whatever the number of ranks; rank 0's stream is the one-process stream (numpy's
    SeedSequence pads entropy with zeros, so ``derived_seed(s, k, 0) == derived_seed(s, k)``).
    """
    if rank < 0:
        raise ValueError(f"rank must be >= 0, got {rank!r}")
    return torch.Generator().manual_seed(derived_seed(seed, METHOD_STREAM, rank))


class EpochBatches:
    """Shuffled mini-batches of pre-converted ``Data`` objects, addressable by (epoch, index).

    Resuming needs no iterator state: batch ``(e, i)`` is always the same structures.

    Data parallel (``world_size`` W > 1): the global batch ``i`` is structures
    ``order[i*W*B : (i+1)*W*B]`` and rank r gets its r-th slice of B (what a
    DistributedSampler over the same permutation gives); an incomplete last global batch is
    always dropped, so every rank has B structures in every step.

    Args:
        data: structures as PyG ``Data`` (bench.data.torch_data.to_data): a list, or a lazy
            sequence read per batch (bench.data.lazy.LazyData).
        batch_size: structures per batch and rank (>= 1).
        seed: run seed. drop_last: drop the incomplete last batch of an epoch (when the
            epoch has at least one full batch; one process only).
        rank, world_size: this rank and the number of data-parallel ranks.
    """

    def __init__(
        self,
        data: Sequence[Data],
        batch_size: int,
        seed: int,
        drop_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got {rank!r}, {world_size!r}")
        if len(data) == 0:
            raise ValueError("no training structures")
        self.data, self.batch_size, self.seed = data, int(batch_size), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        full, rest = divmod(len(self.data), self.batch_size * self.world_size)
        if self.world_size > 1 and full == 0:
            raise ValueError(
                f"{len(self.data)} training structures cannot fill one global "
                f"batch of {self.world_size} ranks x {self.batch_size}"
            )
        keep_rest = not drop_last and self.world_size == 1
        self.steps_per_epoch = full + (rest > 0) if keep_rest or full == 0 else full
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
        """This rank's part of batch ``index`` (0-based, < steps_per_epoch) of ``epoch``."""
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"batch index {index} out of range [0, {self.steps_per_epoch})")
        start = (index * self.world_size + self.rank) * self.batch_size
        idx = self.order(epoch)[start : start + self.batch_size]
        return Batch.from_data_list([self.data[i] for i in idx.tolist()])
