"""OC20 relaxation trajectories: ``--dataset oc20-traj --path DIR``.

DIR holds one relaxation per ASE-readable file (OC20's ``random<id>.traj``): periodic
adsorbate+slab frames with FixAtoms constraints and TOTAL DFT energies (eV). The dataset
bundles what such data needs and ``--dataset ase`` leaves to three ``--set`` flags: whole
trajectories stay in one split (bench.data.trajectory_split; ``n_train`` / ``n_val`` count
trajectories, ``max_structures`` caps each split with whole trajectories spread across it),
the OC20 profile (``kind: oc20``) and its ``total-energy`` variant (train-split normalisation
after per-element references; bench/configs/datasets.yaml). The split is by trajectory
whatever ``spec.split_by`` says (a run config that sets ``frame`` is refused by
bench.config.validate).
"""

from __future__ import annotations

from pathlib import Path

from bench.data.ase_files import ase_files, load_by_trajectory
from bench.data.labels import LabelKeys
from bench.data.registry import DatasetSpec, SplitData
from bench.errors import DataError


def load_oc20_traj(spec: DatasetSpec) -> SplitData:
    """Train/val/test frames of the trajectory folder ``spec.path``, split by trajectory."""
    if spec.path is None or not Path(spec.path).is_dir():
        raise DataError(
            spec.path,
            "path",
            "oc20-traj needs --path FOLDER of trajectory files (one relaxation per file)",
        )
    keys = LabelKeys(spec.energy_key, spec.forces_key)
    split = load_by_trajectory(spec, ase_files(spec.path), keys)
    if not split.periodic:
        raise DataError(
            spec.path,
            "pbc",
            "no periodic frame: oc20-traj reads adsorbate+slab "
            "relaxations; use --dataset ase for molecules",
        )
    return split
