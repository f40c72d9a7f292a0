"""Dataset names -> readers, and the one entry point that yields train/val/test splits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.structure import Structure
from bench.errors import ConfigError

#: name -> "module:function"; each function takes a DatasetSpec and returns a SplitData.
DATASETS: dict[str, str] = {
    "md17": "bench.data.md17:load_md17",
    "rmd17": "bench.data.rmd17:load_rmd17",
    "ase": "bench.data.ase_files:load_ase",
    "npz": "bench.data.sgdml:load_npz_dataset",
    "oc20-traj": "bench.data.oc20_traj:load_oc20_traj",
    "oc20": "bench.data.s2ef_lmdb:load_oc20",
    "oc22": "bench.data.s2ef_lmdb:load_oc22",
}
#: datasets whose files are whole trajectories (``split_by: trajectory`` allowed)
TRAJECTORY_DATASETS = ("ase", "oc20-traj")


@dataclass
class DatasetSpec:
    """Which data a run uses. Resolved from a dataset preset plus CLI options.

    Attributes:
        name: a key of DATASETS.
        data_root: folder holding one sub-folder per dataset (md17/, rmd17/, oc20/, oc22/).
        molecule: MD17/rMD17 molecule name (aspirin, benzene, ...).
        labels: rMD17 only: "original" (old_energies/old_forces) or "revised".
        path: a file or folder (ase; or an explicit LMDB folder for oc20/oc22).
        split_index: rMD17 official split 1..5 (``*_train_0K.npz`` / ``*_test_0K.npz``), used
            with ``labels="revised"``.
        split_seed: seed of the random permutation (paper: numpy default_rng(seed=1)).
        n_train, n_val: split sizes (paper MD17: 950 / 50 / rest test).
        max_structures: truncate each split (CI subsets); None keeps all.
        split_by: "frame" (random frames) or "trajectory" (``ase`` only: every frame of a
            file stays in one split; n_train / n_val then count trajectories; see
            bench.data.trajectory_split).
        early_frames: with split_by "trajectory", keep only the first K frames of each train
            trajectory; None keeps all.
        train_subset: train on the first K structures of the train split (a prefix of its
            random order); val and test stay those of the full ``n_train`` protocol, so runs
            at several K are compared on the same frames (sample-efficiency curves). None:
            the whole train split.
        energy_unit, length_unit: units of an npz file that states none (``e_unit`` /
            ``r_unit``), e.g. "eV", "kcal/mol", "Ang" (bench.data.units); None: the file's.
        energy_key, forces_key: ``atoms.info`` / ``atoms.arrays`` keys of the labels in ASE
            files (MACE: REF_energy / REF_forces); None reads the calculator (bench.data.labels).
        train_path, val_path, test_path: ``ase`` only: one file or folder per split; a split
            without its own path is carved from the train files (bench.data.explicit_splits).
    """

    name: str
    data_root: Path | None = None
    molecule: str | None = None
    labels: str = "original"
    path: Path | None = None
    split_index: int = 1
    split_seed: int = 1
    n_train: int | None = None
    n_val: int | None = None
    max_structures: int | None = None
    split_by: str = "frame"
    early_frames: int | None = None
    train_subset: int | None = None
    energy_unit: str | None = None
    length_unit: str | None = None
    energy_key: str | None = None
    forces_key: str | None = None
    train_path: Path | None = None
    val_path: Path | None = None
    test_path: Path | None = None


@dataclass
class SplitData:
    """Train/val/test structures plus provenance (source files and their checksums).

    A split is a list, or a lazy sequence read on demand (bench.data.lazy.LazyStructures:
    the S2EF LMDB reader); code that passes over a whole split uses bench.data.lazy.bounded.
    """

    train: Sequence[Structure]
    val: Sequence[Structure]
    test: Sequence[Structure]
    periodic: bool
    energy_kind: str = "total"  # "total" or "referenced" (OC20 S2EF adsorption energies)
    sources: dict[str, str] = field(default_factory=dict)  # path -> sha256
    #: per-element energies {Z: eV} read from isolated-atom frames of the files, or None
    e0s: dict[int, float] | None = None


def load_splits(spec: DatasetSpec) -> SplitData:
    """The train/val/test splits of ``spec``, read by the reader DATASETS names (lazy import)."""
    from bench.data.trajectory_split import check_split_options
    from bench.registry import resolve

    check_split_options(spec.split_by, spec.early_frames)
    if spec.split_by == "trajectory" and spec.name not in TRAJECTORY_DATASETS:
        raise ConfigError(
            f"data.split_by 'trajectory' is supported by the ase reader only "
            f"(one file = one trajectory; oc20-traj always splits so), not by "
            f"{spec.name!r}"
        )
    if spec.train_subset is not None and spec.train_subset < 1:
        raise ConfigError(f"data.train_subset must be >= 1 or null, got {spec.train_subset!r}")
    split = resolve(DATASETS, spec.name, "dataset")(spec)
    return _train_prefix(split, spec.train_subset)


def _train_prefix(split: SplitData, k: int | None) -> SplitData:
    """``split`` with its train list cut to the first ``k`` structures (None: unchanged)."""
    if k is None:
        return split
    if k > len(split.train):
        raise ConfigError(
            f"data.train_subset {k} is larger than the train split ({len(split.train)} "
            "structures); lower it or raise data.n_train"
        )
    return dataclasses.replace(split, train=split.train[:k])
