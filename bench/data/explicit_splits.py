"""Splits from separate files (``data.train_path`` / ``val_path`` / ``test_path``).

Each split with its own path is that path's frames, in file order. A split without one is
carved from the train frames by the seeded permutation of bench.data.splits.random_split
(``numpy.random.default_rng(split_seed)``): val takes ``n_val`` frames (default 10 %), and a
missing test takes the rest after ``n_train`` (default 80 %) train frames; with a test path,
train keeps every frame not given to val (or ``n_train`` of them when set).
``max_structures`` truncates each split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from bench.data.registry import DatasetSpec
from bench.data.splits import DEFAULT_FRACTIONS, random_split, take

T = TypeVar("T")


def carve_splits(
    frames: dict[str, Sequence[T]], spec: DatasetSpec
) -> tuple[list[T], list[T], list[T]]:
    """Train/val/test lists from ``frames`` ({"train": [...], optional "val", "test"})."""
    pool = frames["train"]
    n = len(pool)
    n_val = 0 if "val" in frames else _size(spec.n_val, DEFAULT_FRACTIONS[1], n)
    default_train = n - n_val if "test" in frames else int(DEFAULT_FRACTIONS[0] * n)
    n_train = default_train if spec.n_train is None else spec.n_train
    tr, va, te = random_split(n, n_train, n_val, spec.split_seed, spec.train_path)
    lim = spec.max_structures
    val = list(frames["val"])[:lim] if "val" in frames else take(pool, va, lim)
    test = list(frames["test"])[:lim] if "test" in frames else take(pool, te, lim)
    return take(pool, tr, lim), val, test


def _size(given: int | None, fraction: float, n: int) -> int:
    return int(fraction * n) if given is None else given
