"""Energy and force labels of ASE Atoms, and isolated-atom frames as per-element energies.

Where a label is read (``key`` = ``data.energy_key`` / ``data.forces_key``):

- key set: ``atoms.info[key]`` (energy) or ``atoms.arrays[key]`` (forces), e.g. MACE's
  ``REF_energy`` / ``REF_forces`` or any names a NequIP key mapping uses; when the key is the
  calculator's own name (``energy``, ``forces``: ASE's extxyz reader moves those into a
  single-point calculator) the calculator's value;
- key unset: the calculator (ASE .traj / .db files, extxyz ``energy=`` / ``forces``).

A missing label is one DataError that lists the keys the frame has. Forces are read without
applying constraints (the raw labels, as fairchem's AtomsToGraphs does).

Isolated-atom frames (one atom, ``config_type`` ``IsolatedAtom`` as MACE writes it or
``isolated_atom``): their energy is that element's reference energy E0 (eV); they are no
training frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from ase import Atoms

from bench.errors import DataError

#: ``config_type`` values (lower case, underscores dropped) that mark an isolated-atom frame
ISOLATED_ATOM_TYPES = ("isolatedatom",)


class LabelKeys(NamedTuple):
    """``atoms.info`` key of the energy and ``atoms.arrays`` key of the forces (None: calc)."""

    energy: str | None = None
    forces: str | None = None


#: read both labels from the calculator
CALCULATOR = LabelKeys()


def energy_of(atoms: Atoms, keys: LabelKeys, path: Path, i: int) -> float:
    """The energy label of frame ``i`` of ``path``, eV (module docstring says where from)."""
    key = keys.energy
    if key is not None and key in atoms.info:
        return _number(atoms.info[key], path, f"{key} (frame {i})")
    if key in (None, "energy"):
        try:
            return float(atoms.get_potential_energy())
        except Exception:  # no calculator, or one without an energy
            pass
    raise DataError(path, f"energy (frame {i})", _missing("energy", key, atoms))


def forces_of(atoms: Atoms, keys: LabelKeys, path: Path, i: int) -> np.ndarray:
    """[n, 3] force label of frame ``i`` of ``path``, eV/Angstrom, as stored (the reader
    checks its dtype and shape)."""
    key = keys.forces
    if key is not None and key in atoms.arrays:
        return np.asarray(atoms.arrays[key])
    if key in (None, "forces"):
        try:
            return np.asarray(atoms.get_forces(apply_constraint=False))
        except Exception:  # no calculator, or one without forces
            pass
    raise DataError(path, f"forces (frame {i})", _missing("forces", key, atoms))


def is_isolated_atom(atoms: Atoms) -> bool:
    """True for a one-atom frame whose ``config_type`` marks it as an isolated atom."""
    kind = str(atoms.info.get("config_type", "")).replace("_", "").lower()
    return len(atoms) == 1 and kind in ISOLATED_ATOM_TYPES


def add_e0(e0s: dict[int, float], atoms: Atoms, keys: LabelKeys, path: Path, i: int) -> None:
    """Record the isolated-atom energy of frame ``i`` in ``e0s`` ({Z: eV}); DataError when the
    element already has a different one."""
    z = int(atoms.numbers[0])
    energy = energy_of(atoms, keys, path, i)
    if z in e0s and not np.isclose(e0s[z], energy, rtol=0, atol=1e-8):
        raise DataError(
            path,
            f"energy (frame {i})",
            f"isolated atom Z={z} has energy "
            f"{energy} eV but another isolated-atom frame has {e0s[z]} eV",
        )
    e0s[z] = energy


def merge_e0s(parts: list[dict[int, float]], where: str | Path) -> dict[int, float] | None:
    """One {Z: eV} from several files' E0s (None when there is none); DataError on a clash."""
    out: dict[int, float] = {}
    for part in parts:
        for z, e in part.items():
            if z in out and not np.isclose(out[z], e, rtol=0, atol=1e-8):
                raise DataError(where, "E0", f"isolated atom Z={z}: {out[z]} eV and {e} eV")
            out[z] = e
    return out or None


def _number(value, path: Path, field: str) -> float:
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError) as exc:
        raise DataError(path, field, f"not a number: {value!r}") from exc


def _missing(label: str, key: str | None, atoms: Atoms) -> str:
    calc = sorted(getattr(atoms.calc, "results", {}) or {}) if atoms.calc else []
    has = (
        f"info keys {sorted(atoms.info)}, arrays keys {sorted(atoms.arrays)}, "
        f"calculator results {calc}"
    )
    where = "no calculator value" if key is None else f"no key {key!r}"
    return (
        f"label missing ({where}); the frame has {has}; choose with --set "
        f"data.{label}_key=KEY (bench data: --{label}-key KEY)"
    )
