"""Data-parallel training with torch.distributed: the process group of a run launched by
torchrun, and the few collectives the training loop needs.

One process per device. Under ``torchrun`` (env ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``) with ``WORLD_SIZE > 1`` a run joins the process group (nccl
on CUDA, gloo on CPU, or the backend asked for) and trains with DistributedDataParallel;
without it, :class:`World` is a world of one and every collective here is the identity.

What makes a world of W processes train like one process on the global batch:

- data: the global batch is ``W * batch_size`` structures; rank r takes the r-th slice of the
  same global permutation (bench.train.batches.EpochBatches);
- gradients: DDP averages them over ranks, so the update is the gradient of the MEAN of the
  per-rank losses; that mean equals the one-process loss of the global batch when every loss
  term is a mean over equal-size shards: the same number of structures per rank (always true
  here) and, for atom-averaged terms (forces, noise), the same number of selected atoms per
  rank (true for molecules of one size with ``none`` or ``noisy-nodes``; with DeNS the count
  of corrupted atoms per rank is random, so the update is the usual DDP approximation);
- every parameter takes part in every backward (:func:`participation`), so DDP needs no
  ``find_unused_parameters`` even when a head is idle in a batch (a noise head with no DeNS
  structure, the force encoder under ``noisy-nodes``);
- the logged loss terms are their mean over ranks; evaluation, logs, records and checkpoints
  are the job of rank 0 alone (checkpoints hold every rank's random state).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from bench.errors import ConfigError

#: environment variables torchrun sets for every worker
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
BACKENDS = ("nccl", "gloo")


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one run.

    Attributes:
        rank: 0 .. size - 1. size: number of processes. local_rank: index on this node
            (the CUDA device). active: a process group is initialised (collectives and DDP
            are used, even for size 1).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    active: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that evaluates and writes the run directory."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def mean(self, values: Tensor) -> Tensor:
        """The mean over ranks of ``values`` (any shape; NaN/inf on one rank reach all)."""
        if not self.active:
            return values
        out = values.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out / self.size

    def gather(self, obj: Any) -> list[Any]:
        """``[obj of rank 0, ..., obj of rank size-1]`` on every rank (picklable objects)."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DistributedDataParallel when active (parameters broadcast from
        rank 0), else ``model`` itself. The wrapper shares ``model``'s parameters."""
        if not self.active:
            return model
        device = next(model.parameters()).device
        ids = (
            [device.index if device.index is not None else self.local_rank]
            if device.type == "cuda"
            else None
        )
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def world_from_env(env: Mapping[str, str] = os.environ) -> World:
    """The World torchrun describes in ``env`` (not yet active); a world of one without it.

    Raises:
        ConfigError: only some of RANK / WORLD_SIZE / LOCAL_RANK are set, or bad values.
    """
    present = [k for k in ENV_KEYS if k in env]
    if not present:
        return World()
    if len(present) != len(ENV_KEYS):
        raise ConfigError(
            f"torch.distributed environment incomplete: {present} set, need all "
            f"of {list(ENV_KEYS)} (launch with torchrun)"
        )
    try:
        rank, size, local = (int(env[k]) for k in ENV_KEYS)
    except ValueError as exc:
        raise ConfigError(f"torch.distributed environment: {exc}") from exc
    if not (size >= 1 and 0 <= rank < size and local >= 0):
        raise ConfigError(
            f"torch.distributed environment: RANK {rank}, WORLD_SIZE {size}, "
            f"LOCAL_RANK {local} are inconsistent"
        )
    return World(rank, size, local)


@contextmanager
def process_group(device: str, backend: str | None = None) -> Iterator[World]:
    """Join the run's process group for the duration of the block; yields this rank's World.

    A world of one (no torchrun, or ``WORLD_SIZE=1``) initialises nothing. A group that is
    already initialised (a caller's) is used as it is and left open.

    Args:
        device: ``"cpu"`` or ``"cuda"`` (CUDA: this rank uses device ``LOCAL_RANK``).
        backend: ``"nccl"`` or ``"gloo"``; None picks nccl on CUDA, gloo on CPU.
    """
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"--dist-backend must be one of {BACKENDS}, got {backend!r}")
    if dist.is_available() and dist.is_initialized():
        yield World(
            dist.get_rank(),
            dist.get_world_size(),
            int(os.environ.get("LOCAL_RANK", dist.get_rank())),
            active=True,
        )
        return
    world = world_from_env()
    if world.size == 1:
        yield world
        return
    if device == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(
        backend or ("nccl" if device == "cuda" else "gloo"), rank=world.rank, world_size=world.size
    )
    try:
        yield World(world.rank, world.size, world.local_rank, active=True)
    finally:
        dist.destroy_process_group()


def is_main_process(env: Mapping[str, str] = os.environ) -> bool:
    """True unless torchrun's env names a rank other than 0 (for console output)."""
    return env.get("RANK", "0") == "0"


def participation(model: nn.Module) -> Tensor:
    """A scalar that is exactly 0 but depends on every trainable parameter.

    Added to the loss before ``backward``, it gives every parameter a (zero) gradient, so DDP
    never waits for a parameter that a batch did not use. Finite parameters leave the loss and
    the other gradients unchanged; a parameter that no loss term uses gets a zero gradient
    instead of none (AdamW then still decays it).
    """
    anchor = sum(p.reshape(-1)[:1].sum() for p in model.parameters() if p.requires_grad)
    return anchor * 0.0
