"""sGDML npz files anywhere (``--dataset npz --path FILE``), read in the units they state.

Keys (sGDML): ``z`` [n] atomic numbers, ``R`` [F, n, 3] positions, ``E`` [F] or [F, 1]
energies, ``F`` [F, n, 3] forces, and the optional strings ``e_unit`` (e.g. "kcal/mol",
"eV") and ``r_unit`` (e.g. "Ang"); forces are in e_unit / r_unit. A file without a unit
string is refused unless the run says which (``--set data.energy_unit=eV``,
``--set data.length_unit=Ang``); a stated unit that contradicts the file's is an error. The
archive is read with ``allow_pickle=False`` (an object-array unit string is refused).

Split: seeded permutation (``numpy.random.default_rng(spec.split_seed)``), ``n_train`` /
``n_val`` frames (default 80 % / 10 %), the rest test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.checksums import sha256_files
from bench.data.frames import trajectory_structures
from bench.data.npz import load_npz
from bench.data.registry import DatasetSpec, SplitData
from bench.data.splits import fraction_split
from bench.data.units import ENERGY_UNITS, LENGTH_UNITS, energy_to_ev, length_to_angstrom
from bench.errors import DataError

NPZ_KEYS = ("z", "R", "E", "F")
UNIT_KEYS = ("e_unit", "r_unit")
#: the units MD17's sGDML files are documented in (used when a file states none)
MD17_UNITS = ("kcal/mol", "Ang")
#: unit key -> (config key, example, known spellings, converter to eV / Angstrom)
_UNITS = {
    "e_unit": ("data.energy_unit", "eV", ENERGY_UNITS, energy_to_ev),
    "r_unit": ("data.length_unit", "Ang", LENGTH_UNITS, length_to_angstrom),
}


def load_npz_dataset(spec: DatasetSpec) -> SplitData:
    """Train/val/test structures of the sGDML npz at ``spec.path`` (eV, eV/Angstrom)."""
    if spec.path is None:
        raise DataError(None, "path", "the npz dataset needs --path FILE.npz")
    path = Path(spec.path)
    arrays = load_npz(path, NPZ_KEYS, UNIT_KEYS)
    e_factor, r_factor = npz_units(arrays, path, spec.energy_unit, spec.length_unit)
    structures = trajectory_structures(
        path, NPZ_KEYS, arrays, lambda i: f"{path.name}:{i}", e_factor, r_factor
    )
    train, val, test = fraction_split(
        structures, spec.n_train, spec.n_val, spec.split_seed, spec.max_structures, path
    )
    return SplitData(train, val, test, periodic=False, sources=sha256_files([path]))


def npz_units(
    arrays: dict[str, np.ndarray],
    path: Path,
    energy_unit: str | None,
    length_unit: str | None,
    default: tuple[str, str] | None = None,
) -> tuple[float, float]:
    """(eV per energy unit, Angstrom per length unit) of an sGDML npz.

    Each unit is the file's string (``e_unit`` / ``r_unit``), else the configured one, else
    ``default``; DataError when none is known, when the configured unit contradicts the
    file's, or when a unit is not one of bench.data.units.
    """
    chosen = dict(zip(UNIT_KEYS, (energy_unit, length_unit), strict=True))
    stated = {k: _unit_string(arrays, path, k) for k in UNIT_KEYS}
    missing = [k for k in UNIT_KEYS if stated[k] is None and chosen[k] is None]
    if missing and default is None:
        flags = " ".join(f"--set {_UNITS[k][0]}={_UNITS[k][1]}" for k in missing)
        known = "; ".join(f"{_UNITS[k][0]}: {', '.join(_UNITS[k][2])}" for k in missing)
        raise DataError(
            path,
            "/".join(missing),
            "the file states no unit and dens-bench "
            f"does not guess; say which, e.g. {flags} ({known}; bench data: --energy-unit, "
            "--length-unit)",
        )
    dflt = dict(zip(UNIT_KEYS, default or (None, None), strict=True))
    e, r = (_factor(path, k, stated[k], chosen[k], dflt[k]) for k in UNIT_KEYS)
    return e, r


def _factor(path: Path, key: str, stated: str | None, chosen: str | None, default: str | None):
    to = _UNITS[key][3]
    try:
        factor = to(stated or chosen or default)
        if stated and chosen and to(chosen) != factor:
            raise ValueError(f"the file says {stated!r} but {_UNITS[key][0]} is {chosen!r}")
    except ValueError as exc:
        raise DataError(path, key, str(exc)) from exc
    return factor


def _unit_string(arrays: dict[str, np.ndarray], path: Path, key: str) -> str | None:
    if key not in arrays:
        return None
    value = arrays[key]
    if value.dtype.kind not in "US" or value.size != 1:
        raise DataError(path, key, f"expected one unit string, got {value.dtype} {value.shape}")
    item = value.reshape(-1)[0]
    return item.decode() if isinstance(item, bytes) else str(item)
