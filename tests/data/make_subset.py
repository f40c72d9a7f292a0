"""Rebuild the tiny test subset from the published files (not run by the tests).

Usage: python tests/data/make_subset.py SOURCE_ROOT
SOURCE_ROOT holds rmd17/ (andersx/rmd17-npz) and oc20_relax/ (fairchem debug trajectories).
Every shipped npz keeps the published keys and dtypes; each is a row subset of the file of
the same name. Rows kept: the first ``HEAD`` rows of each file plus every row whose
``old_indices`` value also occurs in another file of the same molecule (so dedupe by
old_indices is exercised).
"""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import numpy as np
from ase.io import read, write

HERE = Path(__file__).parent
RMD17 = {"aspirin": ("train_01", "train_02", "test_01"), "ethanol": ("train_01", "test_01")}
HEAD = {"aspirin": 80, "ethanol": 60}
OC20_TRAJ = "random1000156.traj"
OC20_FRAMES = [0, 1, 5, 15, 35]


def _rmd17(src: Path) -> None:
    for mol, splits in RMD17.items():
        files = {s: dict(np.load(src / f"rmd17_{mol}_{s}.npz")) for s in splits}
        shared: set[int] = set()
        for a, b in combinations(splits, 2):
            shared |= set(files[a]["old_indices"]) & set(files[b]["old_indices"])
        for s, d in files.items():
            rows = np.arange(len(d["old_indices"]))
            keep = (rows < HEAD[mol]) | np.isin(d["old_indices"], list(shared))
            out = {k: (v if k == "nuclear_charges" else v[keep]) for k, v in d.items()}
            np.savez(HERE / "rmd17" / f"rmd17_{mol}_{s}.npz", **out)


def _oc20(src: Path) -> None:
    frames = read(src / OC20_TRAJ, ":")
    write(HERE / "oc20_relax" / OC20_TRAJ, [frames[i] for i in OC20_FRAMES])


if __name__ == "__main__":
    root = Path(sys.argv[1])
    _rmd17(root / "rmd17")
    _oc20(root / "oc20_relax")
