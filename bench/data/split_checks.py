"""Checks of a run's loaded splits that a reader alone cannot make.

- An empty split is an error naming the split and the data (a 0-frame test set would give
  no metric, silently); val may be empty only when ``data.n_val`` is 0 on purpose, and an
  evaluation needs only the split it evaluates.
- Periodic frames with fixed atoms (OC20-style slabs) read with the molecule profile
  (``kind: md17``) are an error that gives the exact fix: their total energies and fixed
  atoms need the OC20 settings, else the energy errors are in the 10^6 meV range.
- Elements of val/test that train never shows are a warning: the model has learned no
  embedding (nor reference energy) for them.

The last two read each split once: a lazy split (bench.data.lazy) of more than MAX_PASS
structures through a seeded sample of that many (bench.data.lazy.bounded); the warning then
says so.
"""

from __future__ import annotations

import warnings

from bench.data.lazy import bounded
from bench.data.registry import SplitData
from bench.data.structure import Structure
from bench.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")
OC20_FIX = (
    "--dataset oc20-traj --path DIR (whole-trajectory split, OC20 profile, total "
    "energies), or keep --dataset ase and add --set data.kind=oc20 "
    "--set variant=total-energy --set data.split_by=trajectory"
)


def check_splits(split: SplitData, data_cfg, need: tuple[str, ...] = SPLITS) -> None:
    """Run every check on ``split`` loaded for ``data_cfg`` (a bench.config.DataConfig);
    only the splits in ``need`` must be non-empty. Lazy splits are checked on their bounded
    sample (bench.data.lazy.bounded)."""
    check_nonempty(split, data_cfg, need)
    read = {name: list(bounded(getattr(split, name))) for name in SPLITS}
    check_slabs_not_molecules(read, data_cfg)
    warn_unseen_elements(read, len(split.train))


def data_name(data_cfg) -> str:
    """The data of ``data_cfg`` as a user named it: a path, or the dataset (and molecule)."""
    path = data_cfg.path or data_cfg.train_path
    if path:
        return str(path)
    return "/".join(p for p in (data_cfg.name, data_cfg.molecule) if p)


def check_nonempty(split: SplitData, data_cfg, need: tuple[str, ...] = SPLITS) -> None:
    """DataError naming the first empty split of ``need`` (val may be empty when n_val is 0)."""
    for name in need:
        if getattr(split, name) or (name == "val" and data_cfg.n_val == 0):
            continue
        own = getattr(data_cfg, f"{name}_path", None)
        raise DataError(
            own or data_name(data_cfg),
            name,
            "split is empty (0 structures); "
            "check the split sizes (data.n_train, data.n_val, max_structures) and "
            "the files",
        )


def check_slabs_not_molecules(read: dict[str, list[Structure]], data_cfg) -> None:
    """ConfigError when fixed-atom periodic frames are read with the molecule profile
    (``read``: split name -> its structures, or a sample of them)."""
    frames = [s for name in SPLITS for s in read[name]]
    slabs = [s for s in frames if s.periodic and s.fixed is not None and s.fixed.any()]
    if slabs and data_cfg.kind == "md17":
        raise ConfigError(
            f"{data_name(data_cfg)}: {len(slabs)} periodic frames with fixed "
            "atoms (e.g. OC20 slabs) read as molecules (data.kind md17); use " + OC20_FIX
        )


def warn_unseen_elements(read: dict[str, list[Structure]], n_train: int) -> None:
    """A warning listing the elements of val/test that no train structure has (``read``: as
    for :func:`check_slabs_not_molecules`; ``n_train``: the size of the whole train split)."""
    seen = {int(z) for s in read["train"] for z in s.z}
    where = "" if len(read["train"]) == n_train else f" (a sample of {len(read['train'])})"
    for name in ("val", "test"):
        unseen = sorted({int(z) for s in read[name] for z in s.z} - seen)
        if unseen:
            warnings.warn(
                f"{name} split holds elements Z={unseen} that the train split{where} never "
                "shows; the model has learned nothing about them",
                stacklevel=2,
            )
