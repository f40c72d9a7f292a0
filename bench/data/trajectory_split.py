"""Trajectory-level splits: every frame of a trajectory lands in the same split.

Frames of one relaxation trajectory are strongly correlated; a random frame split puts frames
of the same trajectory in train and test and so measures interpolation, not generalisation to
new systems. Here the unit of the split is the trajectory (for the ``ase`` reader: one file,
as the OC20 ``.traj`` relaxation files): the trajectory NAMES are permuted by
``numpy.random.default_rng(seed)`` (bench.data.splits.random_split), the first ``n_train`` are
train, the next ``n_val`` val, the rest test. Frames keep their order inside a trajectory.

``early_frames=K`` keeps only the first K frames of each TRAIN trajectory (train on the start
of relaxations; val and test trajectories keep every frame), the setting of "train on early
frames, relax the held-out initial structures".

``max_structures=M`` caps each split with WHOLE trajectories spread across it: k
trajectories at evenly spaced positions of the split's permuted list of m
(``numpy.linspace(0, m - 1, k)`` rounded), k grown from 1 while their frames fit in M, so a
capped split is not its first files. When not even one trajectory fits (OC20 relaxations
run to hundreds of frames), the split keeps the first ``M // k`` frames of k = min(M, m)
trajectories spread the same way (many systems, each still in one split only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench.data.splits import random_split
from bench.data.structure import Structure
from bench.errors import ConfigError

T = TypeVar("T")
SPLIT_BY = ("frame", "trajectory")
SPLIT_NAMES = ("train", "val", "test")
#: default trajectory fractions (train, val); the rest is test
DEFAULT_FRACTIONS = (0.8, 0.1)


def check_split_options(split_by: str, early_frames: int | None) -> None:
    """ConfigError for an unknown ``split_by`` or a non-positive ``early_frames``."""
    if split_by not in SPLIT_BY:
        raise ConfigError(f"data.split_by must be one of {SPLIT_BY}, got {split_by!r}")
    if early_frames is not None and early_frames < 1:
        raise ConfigError(f"data.early_frames must be >= 1 or null, got {early_frames!r}")
    if early_frames is not None and split_by != "trajectory":
        raise ConfigError(
            f"data.early_frames needs data.split_by 'trajectory' (got split_by {split_by!r})"
        )


def split_names(
    names: Sequence[str],
    n_train: int | None,
    n_val: int | None,
    seed: int,
    where: str | Path = "dataset",
) -> tuple[list[str], list[str], list[str]]:
    """Train/val/test trajectory names, each list in permutation order.

    ``n_train`` / ``n_val`` count trajectories (default 80 % / 10 %, rounded down).

    Raises:
        ConfigError: no trajectory, or duplicate names.
        DataError: fewer trajectories than ``n_train + n_val``.
    """
    if not names:
        raise ConfigError(f"{where}: no trajectory to split")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: trajectory names are not unique: {sorted(names)}")
    n = len(names)
    n_tr = int(DEFAULT_FRACTIONS[0] * n) if n_train is None else n_train
    n_va = int(DEFAULT_FRACTIONS[1] * n) if n_val is None else n_val
    train, val, test = random_split(n, n_tr, n_va, seed, where)
    return tuple([names[int(i)] for i in idx] for idx in (train, val, test))


def assign_trajectories(
    names: Sequence[str],
    n_train: int | None,
    n_val: int | None,
    seed: int,
    where: str | Path = "dataset",
) -> dict[str, str]:
    """``{trajectory name: "train" | "val" | "test"}``; arguments as :func:`split_names`."""
    parts = split_names(names, n_train, n_val, seed, where)
    return {name: split for split, part in zip(SPLIT_NAMES, parts, strict=True) for name in part}


def trajectory_split(
    trajectories: dict[str, Sequence[Structure]],
    n_train: int | None,
    n_val: int | None,
    seed: int,
    early_frames: int | None = None,
    where: str | Path = "dataset",
    max_structures: int | None = None,
) -> tuple[list[Structure], list[Structure], list[Structure]]:
    """Train/val/test frames of ``trajectories`` ({name: frames in order}), split by name.

    Each split lists its trajectories in permutation order, each trajectory's frames in file
    order; train trajectories are cut to their first ``early_frames`` frames when given; each
    split is capped at ``max_structures`` frames of whole trajectories (module docstring).
    """
    check_split_options("trajectory", early_frames)
    parts = split_names(list(trajectories), n_train, n_val, seed, where)
    out = []
    for split, part in zip(SPLIT_NAMES, parts, strict=True):
        keep = early_frames if split == "train" else None
        groups = [list(trajectories[name])[:keep] for name in part]
        out.append([s for g in cap_trajectories(groups, max_structures) for s in g])
    return out[0], out[1], out[2]


def cap_trajectories(groups: Sequence[Sequence[T]], limit: int | None) -> list[Sequence[T]]:
    """At most ``limit`` items of ``groups`` (trajectories), spread over the list (module
    docstring): whole groups when at least one fits, else the first frames of many; all
    groups when ``limit`` is None."""
    if limit is None or sum(map(len, groups)) <= limit:
        return list(groups)
    best: list[Sequence[T]] = []
    for k in range(1, len(groups) + 1):
        picked = _evenly(groups, k)
        if sum(map(len, picked)) > limit:
            break
        best = picked
    if best or not groups:
        return best
    k = min(limit, len(groups))
    return [g[: limit // k] for g in _evenly(groups, k)]


def _evenly(groups: Sequence[Sequence[T]], k: int) -> list[Sequence[T]]:
    """``k`` of ``groups`` at evenly spaced positions (``numpy.linspace(0, m - 1, k)``)."""
    return [groups[int(i)] for i in np.linspace(0, len(groups) - 1, k).round()]
