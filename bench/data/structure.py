"""The one in-memory structure type every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Structure:
    """One labelled atomic structure.

    Attributes:
        z: int64 [n] atomic numbers.
        pos: float64 [n, 3] positions, Angstrom.
        energy: total energy in eV (OC20 S2EF: adsorption/referenced energy).
        forces: float64 [n, 3] forces, eV/Angstrom.
        id: stable identifier, e.g. ``"rmd17/aspirin:old_index=1234"``.
        cell: float64 [3, 3] lattice vectors as rows (Angstrom), or None for molecules.
        pbc: bool [3] periodic directions, or None for molecules.
        fixed: bool [n] atoms held fixed (never noised, no force loss), or None (all free).
        tags: int64 [n] OC20 tags (0 subsurface, 1 surface, 2 adsorbate), or None.
        info: free-form provenance (source file, frame index, trajectory id, ...).
    """

    z: np.ndarray
    pos: np.ndarray
    energy: float
    forces: np.ndarray
    id: str
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    fixed: np.ndarray | None = None
    tags: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_atoms(self) -> int:
        return int(self.z.shape[0])

    @property
    def periodic(self) -> bool:
        return self.pbc is not None and bool(np.any(self.pbc))
