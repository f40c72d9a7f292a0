"""The target normalisation of a model: what ``stats.json`` holds for the network.

``E = energy_std * e_hat + energy_mean + sum_i atom_ref[z_i]`` (eV), ``F = force_std * f_hat``
(eV/Angstrom); the losses divide by the same stds (bench.methods.base.Targets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from bench.errors import DataError

#: the number of entries of a per-element table (atomic numbers 0..118)
NUM_ELEMENTS = 119


@dataclass(frozen=True)
class Normalization:
    """Target normalisation (the model part of ``stats.json``).

    Attributes:
        energy_mean: eV (per structure, after the per-element references).
        energy_std: eV (> 0). force_std: eV/Angstrom (> 0).
        atom_ref: per-element reference energies {Z: eV}, or None (no references).
    """

    energy_mean: float
    energy_std: float
    force_std: float
    atom_ref: dict[int, float] | None = None

    def __post_init__(self) -> None:
        if not (self.energy_std > 0 and self.force_std > 0):
            raise ValueError(
                f"energy_std and force_std must be > 0, got {self.energy_std!r}, {self.force_std!r}"
            )
        if not math.isfinite(self.energy_mean):
            raise ValueError(f"energy_mean must be finite, got {self.energy_mean!r}")
        if self.atom_ref is not None and any(not 0 <= z < NUM_ELEMENTS for z in self.atom_ref):
            raise ValueError(f"atom_ref keys must be atomic numbers, got {sorted(self.atom_ref)}")

    def to_dict(self) -> dict:
        """JSON-ready dict (element keys as strings), the keys ``stats.json`` holds."""
        refs = None if not self.atom_ref else {str(z): v for z, v in self.atom_ref.items()}
        return {
            "energy_mean": self.energy_mean,
            "energy_std": self.energy_std,
            "force_std": self.force_std,
            "atom_ref": refs,
        }

    @classmethod
    def from_dict(cls, stats: dict, source: str | Path = "stats.json") -> Normalization:
        """The normalisation in ``stats`` (a ``stats.json`` object: other keys are the
        statistics' provenance and are ignored); DataError naming ``source`` and the field."""
        values = {}
        for key in ("energy_mean", "energy_std", "force_std"):
            value = stats.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DataError(Path(source), key, f"expected a number, got {value!r}")
            values[key] = float(value)
        refs = stats.get("atom_ref")
        if refs is not None and not isinstance(refs, dict):
            raise DataError(Path(source), "atom_ref", f"expected an object, got {refs!r}")
        try:
            atom_ref = None if not refs else {int(z): float(v) for z, v in refs.items()}
            return cls(**values, atom_ref=atom_ref)
        except (TypeError, ValueError) as exc:
            raise DataError(Path(source), None, str(exc)) from exc

    def atom_ref_tensor(self) -> Tensor | None:
        """float64 [119] reference energies by atomic number (eV), or None."""
        if not self.atom_ref:
            return None
        table = torch.zeros(NUM_ELEMENTS, dtype=torch.float64)
        for z, value in self.atom_ref.items():
            table[z] = value
        return table


__all__ = ["Normalization"]
