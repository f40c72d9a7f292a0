"""Normalisation statistics, computed on the train split only and stored with the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bench.data.structure import Structure
from bench.errors import DataError


@dataclass(frozen=True)
class NormStats:
    """Label statistics of a training set.

    Attributes:
        n_structures: structures the statistics come from.
        energy_mean_ev, energy_std_ev: mean and (population) std of the total energies, eV.
        force_rms_ev_per_a: sqrt of the mean squared force component over free atoms, eV/A.
        force_std_ev_per_a: std of the force components over free atoms, eV/A.
        element_refs_ev: per-element energies {Z: eV} of the least-squares fit
            E ~ sum_i ref[z_i] (None unless requested); with a single composition (MD17)
            the fit is rank-deficient and numpy's minimum-norm solution is kept.
        residual_mean_ev, residual_std_ev: mean and std of E - sum_i ref[z_i] (with refs).
    """

    n_structures: int
    energy_mean_ev: float
    energy_std_ev: float
    force_rms_ev_per_a: float
    force_std_ev_per_a: float
    element_refs_ev: dict[int, float] | None = None
    residual_mean_ev: float | None = None
    residual_std_ev: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict (element keys as strings)."""
        d = asdict(self)
        if self.element_refs_ev is not None:
            d["element_refs_ev"] = {str(k): v for k, v in self.element_refs_ev.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NormStats:
        d = dict(d)
        if d.get("element_refs_ev") is not None:
            d["element_refs_ev"] = {int(k): float(v) for k, v in d["element_refs_ev"].items()}
        return cls(**d)


def compute_stats(structures: Sequence[Structure], element_refs: bool = False) -> NormStats:
    """Statistics of ``structures`` (pass the train split only).

    Raises:
        ValueError: no structures.
        DataError: no free atom (every atom fixed); names the source files.
    """
    if not structures:
        raise ValueError("cannot compute statistics of 0 structures")
    energy = np.array([s.energy for s in structures], dtype=np.float64)
    forces = np.concatenate([_free_forces(s) for s in structures]).reshape(-1)
    if forces.size == 0:
        raise DataError(source_files(structures), "fixed", "no free atom in the train split")
    stats = {
        "n_structures": len(structures),
        "energy_mean_ev": float(energy.mean()),
        "energy_std_ev": float(energy.std()),
        "force_rms_ev_per_a": float(np.sqrt(np.mean(forces**2))),
        "force_std_ev_per_a": float(forces.std()),
    }
    if element_refs:
        refs = fit_element_refs(structures, energy)
        residual = energy - np.array([sum(refs[int(z)] for z in s.z) for s in structures])
        stats |= {
            "element_refs_ev": refs,
            "residual_mean_ev": float(residual.mean()),
            "residual_std_ev": float(residual.std()),
        }
    return NormStats(**stats)


def fit_element_refs(structures: Sequence[Structure], energy: np.ndarray) -> dict[int, float]:
    """Least-squares per-element energies: minimise ||counts @ ref - energy||, eV."""
    elements = sorted({int(z) for s in structures for z in s.z})
    col = {z: k for k, z in enumerate(elements)}
    counts = np.zeros((len(structures), len(elements)))
    for b, s in enumerate(structures):
        np.add.at(counts[b], [col[int(z)] for z in s.z], 1.0)
    ref, *_ = np.linalg.lstsq(counts, energy, rcond=None)
    return {z: float(r) for z, r in zip(elements, ref, strict=True)}


def source_files(structures: Sequence[Structure]) -> str:
    """The files ``structures`` were read from (``info["source"]``), for error messages: the
    first three, then how many more."""
    files = sorted({str(s.info.get("source", s.id)) for s in structures})
    more = f" (+{len(files) - 3} more files)" if len(files) > 3 else ""
    return ", ".join(files[:3]) + more


def _free_forces(s: Structure) -> np.ndarray:
    return s.forces if s.fixed is None else s.forces[~s.fixed]
