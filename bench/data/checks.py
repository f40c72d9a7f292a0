"""Input checks shared by the readers: each failure is one DataError naming file and field.

Readers call ``check_real`` on every raw array before converting it (strings, bytes, bools,
complex numbers and Python objects are refused, never coerced), then ``check_structure`` (or,
for a fixed-composition trajectory, the same checks on the stacked arrays) before a Structure
leaves the reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import DataError

#: the dtype a run trains in by default; every value must be finite in it
TRAINING_DTYPE = np.float32
#: atoms closer than this (Angstrom) sit on top of each other: a data error, not a structure
MIN_DISTANCE = 0.1
#: a periodic cell whose shortest height (Angstrom) is below this is refused: its periodic
#: graph would need ~(cutoff / height)^3 images per atom
MIN_CELL_HEIGHT = 0.5
#: atoms per cubic Angstrom a periodic cell may hold (diamond: 0.18); more would give every
#: atom millions of periodic neighbours within a 12 Angstrom cutoff
MAX_DENSITY = 1.0
#: elements per block in the pairwise distance check (bounds its memory to ~8 MB)
_BLOCK = 1 << 20
_KIND_NAMES = {
    "f": "real numbers",
    "i": "integers",
    "u": "integers",
    "b": "booleans",
    "c": "complex numbers",
    "U": "strings",
    "S": "bytes",
    "O": "Python objects",
    "V": "raw records",
    "M": "datetimes",
    "m": "time deltas",
}


def check_real(arr, path: str | Path, field: str, kinds: str = "iuf") -> np.ndarray:
    """``arr`` as an array whose dtype kind is in ``kinds`` ("iu": integers only).

    Raises:
        DataError: another kind (string, bytes, bool, complex, object, ...).
    """
    arr = np.asarray(arr)
    if arr.dtype.kind not in kinds:
        want = "integers" if set(kinds) <= set("iu") else "real numbers"
        got = _KIND_NAMES.get(arr.dtype.kind, "values")
        raise DataError(path, field, f"expected {want}, got {got} (dtype {arr.dtype})")
    return arr


def check_shape(arr: np.ndarray, shape: tuple[int | None, ...], path: str | Path, field: str):
    """Raise DataError unless ``arr.shape`` matches ``shape`` (None matches any length)."""
    ok = arr.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, arr.shape, strict=True)
    )
    if not ok:
        parts = ["*" if s is None else str(s) for s in shape]
        want = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        raise DataError(path, field, f"expected shape {want}, got {tuple(arr.shape)}")


def check_finite(arr: np.ndarray, path: str | Path, field: str) -> None:
    """Raise DataError unless every entry is finite in TRAINING_DTYPE (float32): NaN, inf and
    values beyond float32's range (~3.4e38) are refused, naming the first bad entry."""
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(np.asarray(arr, dtype=np.float64).astype(TRAINING_DTYPE))
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        value = float(np.asarray(arr).reshape(bad.shape)[first])
        if np.isfinite(value):
            msg = f"value {value:g} at index {first} overflows float32 (the training dtype)"
        else:
            msg = f"contains NaN or inf (first at index {first})"
        raise DataError(path, field, msg)


def check_atomic_numbers(z, path: str | Path, field: str) -> np.ndarray:
    """Atomic numbers as int64 in 1..118 (integral floats accepted); DataError otherwise."""
    z = check_real(z, path, field)
    if z.size and (not np.all(np.isfinite(z)) or np.any(z != np.round(z))):
        raise DataError(path, field, "atomic numbers must be integers")
    if z.size and (z.min() < 1 or z.max() > 118):
        bad = sorted({v for v in z.reshape(-1).tolist() if not 1 <= v <= 118})
        raise DataError(path, field, f"atomic numbers outside 1..118: {bad[:5]}")
    zi = z.astype(np.int64)
    return zi


def check_n_atoms(n: int, path: str | Path, field: str) -> None:
    """Raise DataError for a structure without atoms."""
    if n < 1:
        raise DataError(path, field, "structure has no atoms")


def check_cell(cell: np.ndarray, n_atoms: int, path: str | Path, field: str) -> None:
    """A periodic cell [3, 3] (rows = lattice vectors, Angstrom) holding ``n_atoms``: finite,
    not singular, every height (distance between opposite faces) at least MIN_CELL_HEIGHT,
    at most MAX_DENSITY atoms per cubic Angstrom."""
    check_shape(cell, (3, 3), path, field)
    check_finite(cell, path, field)
    volume = abs(float(np.linalg.det(cell)))
    faces = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    height = volume / faces.max() if volume > 1e-9 else 0.0  # the largest face: the shortest
    if height < MIN_CELL_HEIGHT:
        kind = "singular cell" if volume <= 1e-9 else "tiny cell"
        raise DataError(
            path,
            field,
            f"periodic structure with a {kind} (shortest height "
            f"{height:.3g} Angstrom; at least {MIN_CELL_HEIGHT} needed)",
        )
    if n_atoms / volume > MAX_DENSITY:
        raise DataError(
            path,
            field,
            f"{n_atoms} atoms in a cell of {volume:.3g} Angstrom^3 "
            f"(more than {MAX_DENSITY} per Angstrom^3)",
        )


def check_min_distance(
    pos: np.ndarray,
    path: str | Path,
    field: str,
    cell: np.ndarray | None = None,
    pbc: np.ndarray | None = None,
) -> None:
    """Raise DataError when two atoms are closer than MIN_DISTANCE, naming frame and atoms.

    Args:
        pos: [n, 3] or [F, n, 3] (frames of one composition) positions, Angstrom.
        cell, pbc: for a periodic structure ([n, 3] only), its cell [3, 3] and periodic
            directions [3]: the nearest periodic image of each pair is used (exact, as
            MIN_DISTANCE < MIN_CELL_HEIGHT / 2 and check_cell ran first).
    """
    frames = pos[None] if pos.ndim == 2 else pos
    periodic = cell is not None and pbc is not None and bool(np.any(pbc))
    if periodic:  # pair vectors in fractional coordinates, wrapped to the nearest image
        frames = frames @ np.linalg.inv(cell)
    i, j = np.triu_indices(frames.shape[1], 1)
    per_frame = max(1, _BLOCK // max(1, 3 * len(i)))
    pairs = max(1, _BLOCK // 3)
    for f0 in range(0, frames.shape[0], per_frame):
        for p0 in range(0, len(i), pairs):
            a, b = i[p0 : p0 + pairs], j[p0 : p0 + pairs]
            d = frames[f0 : f0 + per_frame, b] - frames[f0 : f0 + per_frame, a]
            if periodic:
                d = _nearest_image(d, cell, np.asarray(pbc, dtype=bool))
            r2 = np.einsum("fpk,fpk->fp", d, d)
            if np.any(r2 < MIN_DISTANCE**2):
                f, p = np.argwhere(r2 < MIN_DISTANCE**2)[0]
                frame = f"frame {f0 + f}: " if pos.ndim == 3 else ""
                raise DataError(
                    path,
                    field,
                    f"{frame}atoms {a[p]} and {b[p]} are "
                    f"{np.sqrt(r2[f, p]):.3g} Angstrom apart (closer than "
                    f"{MIN_DISTANCE})",
                )


def _nearest_image(frac: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Fractional pair vectors [..., 3] -> Cartesian vectors to the nearest periodic image."""
    frac[..., pbc] -= np.rint(frac[..., pbc])
    return frac @ cell


def check_structure(s, path: str | Path, fields: dict[str, str]) -> None:
    """Every check of one Structure (bench.data.structure) before it leaves its reader.

    Args:
        s: the structure (z, pos, energy, forces, cell, pbc).
        path: its file.
        fields: "z", "pos", "energy", "forces", "cell" -> the field as the file names it
            (e.g. ``"positions (frame 3)"``), used in the messages.
    """
    n = s.n_atoms
    check_n_atoms(n, path, fields["z"])
    check_atomic_numbers(s.z, path, fields["z"])
    for name, arr, shape in (
        ("pos", s.pos, (n, 3)),
        ("energy", np.array([s.energy]), (1,)),
        ("forces", s.forces, (n, 3)),
    ):
        check_shape(arr, shape, path, fields[name])
        check_finite(arr, path, fields[name])
    if s.periodic:
        check_cell(s.cell, n, path, fields["cell"])
    check_min_distance(s.pos, path, fields["pos"], s.cell if s.periodic else None, s.pbc)
