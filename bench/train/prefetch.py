"""The training batches of steps ``start, start + 1, ...`` in order, built in the training
process or ahead of the step by torch DataLoader worker processes (``train.loader_workers``).

Batch ``(epoch, index)`` is a pure function of the run seed (bench.train.batches), so workers
build exactly the batches the training process would: workers change when a batch is built,
never which. The DataLoader draws its workers' base seed from a private generator: without
one it draws from torch's global RNG, which would shift the dropout stream and break equality
with 0 workers and with a resumed run. torch seeds each worker's RNGs from that base seed (no
batch draws from them) and runs it with one thread. With the ``fork`` start method workers
share the training structures copy-on-write; lazy LMDB splits open their files per worker
(bench.data.lazy).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset
from torch_geometric.data import Batch

from bench.train.batches import EpochBatches

__all__ = ["BatchStream", "StepBatches"]

#: seed of the DataLoader's private generator (its workers' RNG seeds, which no batch uses)
LOADER_SEED = 0
#: batches each worker builds ahead
PREFETCH_FACTOR = 2


class StepBatches(Dataset):
    """Map-style dataset: global step ``s`` -> ``batches.batch(*divmod(s, steps_per_epoch))``."""

    def __init__(self, batches: EpochBatches) -> None:
        self.batches = batches

    def __getitem__(self, step: int) -> Batch:
        return self.batches.batch(*divmod(step, self.batches.steps_per_epoch))


class BatchStream:
    """An iterator over the batches of ``steps`` (a range of global steps), in order.

    Args:
        batches: the run's EpochBatches.
        steps: the global steps to yield the batches of, e.g. ``range(start, total_steps)``.
        workers: DataLoader worker processes (0: each batch is built when asked for).
        pin_memory: page-lock the batches for a faster copy to CUDA (workers > 0).

    Attributes:
        next_step: the step whose batch ``next()`` returns; ``steps.stop`` once exhausted.
    """

    def __init__(
        self, batches: EpochBatches, steps: range, workers: int = 0, pin_memory: bool = False
    ) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers!r}")
        self.next_step, self.stop = steps.start, steps.stop
        dataset = StepBatches(batches)
        self._it: Iterator[Batch] | None
        if workers == 0:
            self._it = (dataset[s] for s in steps)
            return
        loader = DataLoader(
            dataset,
            batch_size=None,
            sampler=steps,
            num_workers=workers,
            collate_fn=_identity,
            pin_memory=pin_memory,
            prefetch_factor=PREFETCH_FACTOR,
            generator=torch.Generator().manual_seed(LOADER_SEED),
        )
        self._it = iter(loader)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Batch:
        if self._it is None:
            raise StopIteration
        batch = next(self._it)
        self.next_step += 1
        return batch

    def close(self) -> None:
        """Stop: the worker processes exit (the iterator's shutdown); ``next`` then stops."""
        self._it = None


def _identity(batch: Batch) -> Batch:
    """The collate function: StepBatches items are collated batches already (module level,
    so that spawned workers can unpickle it)."""
    return batch
