"""Which data `bench perf` measures on: shortcuts for the two shipped subsets, or any dataset.

``md17-aspirin``: rMD17 aspirin with the ORIGINAL MD17 labels (``<data_root>/rmd17``);
``oc20-relax``: the OC20 relaxation frames of ``<data_root>/oc20_relax`` read by the ``ase``
reader as periodic OC20-kind slabs with the profile's ``total-energy`` variant (they hold
total DFT energies: train-split normalisation after per-element references). Any other name
is a bench dataset (``rmd17``, ``md17``, ``ase``, ``oc20``, ``oc22``) configured as for
``bench run``. The default data root is the repository's ``tests/data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.registry import DatasetSpec

#: perf shortcut -> (bench dataset, bench.run_request.RunRequest fields; "{root}" is the
#: data root)
SHORTCUTS: dict[str, tuple[str, dict[str, Any]]] = {
    "md17-aspirin": ("rmd17", {"molecule": "aspirin", "labels": "original"}),
    "oc20-relax": (
        "ase",
        {"path": "{root}/oc20_relax", "overrides": ("data.kind=oc20",), "variant": "total-energy"},
    ),
}

#: shortcut -> (cutoff A, neighbour cap) of the paper's backbones for its data: Equiformer on
#: MD17 (5 A, no cap), EquiformerV2 on OC20 (12 A, 20 neighbours)
GRAPH_OF: dict[str, tuple[float, int | None]] = {
    "md17-aspirin": (5.0, None),
    "oc20-relax": (12.0, 20),
}


def default_data_root() -> Path:
    """The shipped test subset, ``<repository>/tests/data``."""
    return Path(__file__).resolve().parents[2] / "tests" / "data"


def dataset_options(name: str, data_root: Path) -> tuple[str, dict[str, Any]]:
    """The bench dataset of ``name`` and its RunRequest fields (data root included)."""
    dataset, keys = SHORTCUTS.get(name, (name, {}))
    resolved = {k: v.format(root=data_root) if isinstance(v, str) else v for k, v in keys.items()}
    return dataset, {"data_root": str(data_root)} | resolved


def dataset_spec(name: str, data_root: Path, max_structures: int | None = None) -> DatasetSpec:
    """A DatasetSpec for a shortcut that puts every frame (at most ``max_structures``) in the
    ``test`` split (the graph and loader components need structures, not splits)."""
    if name not in SHORTCUTS:
        raise ValueError(f"dataset must be one of {sorted(SHORTCUTS)}, got {name!r}")
    dataset, keys = dataset_options(name, data_root)
    path = keys.get("path")
    return DatasetSpec(
        name=dataset,
        data_root=data_root,
        molecule=keys.get("molecule"),
        labels=keys.get("labels", "original"),
        path=None if path is None else Path(path),
        n_train=0,
        n_val=0,
        max_structures=max_structures,
    )


def graph_defaults(name: str) -> tuple[float, int | None]:
    """Cutoff (Angstrom) and neighbour cap of the paper's backbones for shortcut ``name``."""
    return GRAPH_OF[name]
