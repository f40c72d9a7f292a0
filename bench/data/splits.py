"""Random train/val/test splits (the MD17 protocol of the paper) and split bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench.errors import DataError

T = TypeVar("T")

#: the paper's MD17 protocol: 950 train, 50 val, the rest test
MD17_N_TRAIN = 950
MD17_N_VAL = 50


def random_split(
    n: int, n_train: int, n_val: int, seed: int, where: str | Path = "dataset"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of a train/val/test split of ``n`` items.

    ``perm = numpy.random.default_rng(seed).permutation(n)``; train ``perm[:n_train]``, val the
    next ``n_val``, test the rest (as in the Equiformer / TorchMD-Net MD17 code).

    Raises:
        DataError: fewer than ``n_train + n_val`` items, or negative sizes.
    """
    if n_train < 0 or n_val < 0:
        raise DataError(where, "n_train/n_val", f"negative split size ({n_train}, {n_val})")
    if n_train + n_val > n:
        raise DataError(
            where,
            "n_train/n_val",
            f"only {n} structures, cannot take {n_train} train + {n_val} val; "
            "set smaller n_train/n_val",
        )
    perm = np.random.default_rng(seed).permutation(n)
    return perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]


def take(items: Sequence[T], idx: np.ndarray, limit: int | None = None) -> list[T]:
    """``[items[i] for i in idx]``, truncated to ``limit`` when given."""
    sel = idx if limit is None else idx[:limit]
    return [items[int(i)] for i in sel]


#: default (train, val) fractions of a generic file; the rest is test
DEFAULT_FRACTIONS = (0.8, 0.1)


def fraction_split(
    items: Sequence[T],
    n_train: int | None,
    n_val: int | None,
    seed: int,
    limit: int | None = None,
    where: str | Path = "dataset",
) -> tuple[list[T], list[T], list[T]]:
    """Train/val/test lists of :func:`random_split` with default sizes 80 % / 10 % (rounded
    down; the rest test), each truncated to ``limit`` when given."""
    n = len(items)
    n_tr = int(DEFAULT_FRACTIONS[0] * n) if n_train is None else n_train
    n_va = int(DEFAULT_FRACTIONS[1] * n) if n_val is None else n_val
    parts = random_split(n, n_tr, n_va, seed, where)
    return tuple(take(items, idx, limit) for idx in parts)
