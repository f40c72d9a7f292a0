"""Fixed-composition trajectories (MD17, rMD17) -> Structures, with checks and unit conversion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.data.checks import (
    check_atomic_numbers,
    check_finite,
    check_min_distance,
    check_n_atoms,
    check_real,
    check_shape,
)
from bench.data.structure import Structure
from bench.data.units import KCAL_PER_MOL_TO_EV
from bench.errors import DataError


def trajectory_structures(
    path: Path,
    fields: tuple[str, str, str, str],
    arrays: dict[str, np.ndarray],
    id_of: Callable[[int], str],
    energy_to_ev: float = KCAL_PER_MOL_TO_EV,
    length_to_a: float = 1.0,
) -> list[Structure]:
    """One Structure per frame of a single-molecule trajectory (MD17 units by default).

    Args:
        path: the source file (named in errors).
        fields: names of the (atomic numbers, coords, energies, forces) arrays in ``arrays``.
        arrays: z [n]; coords [F, n, 3] in the length unit; energies [F] or [F, 1] in the
            energy unit; forces [F, n, 3] in energy unit / length unit.
        id_of: frame index -> structure id.
        energy_to_ev: eV per energy unit of the file (default kcal/mol, MD17's).
        length_to_a: Angstrom per length unit of the file (default 1: Angstrom).

    Raises:
        DataError: non-numeric, misshapen or non-finite (in float32) arrays, no atom, no
            frame, bad atomic numbers, two atoms closer than checks.MIN_DISTANCE.

    Returns:
        F structures with energy in eV and forces in eV/Angstrom (float64).
    """
    kz, kr, ke, kf = fields
    z = check_atomic_numbers(np.asarray(arrays[kz]).reshape(-1), path, kz)
    n = z.shape[0]
    check_n_atoms(n, path, kz)
    pos = check_real(arrays[kr], path, kr).astype(np.float64)
    check_shape(pos, (None, n, 3), path, kr)
    n_frames = pos.shape[0]
    if n_frames == 0:
        raise DataError(path, kr, "no frames")
    energy = check_real(arrays[ke], path, ke).astype(np.float64)
    if energy.ndim == 2 and energy.shape[1] == 1:
        energy = energy[:, 0]
    check_shape(energy, (n_frames,), path, ke)
    forces = check_real(arrays[kf], path, kf).astype(np.float64)
    check_shape(forces, (n_frames, n, 3), path, kf)
    for arr, key in ((pos, kr), (energy, ke), (forces, kf)):
        check_finite(arr, path, key)
    pos = pos * length_to_a if length_to_a != 1.0 else pos
    energy = energy * energy_to_ev
    forces = forces * (energy_to_ev / length_to_a)
    check_min_distance(pos, path, kr)
    src = str(path)
    return [
        Structure(
            z=z,
            pos=pos[i],
            energy=float(energy[i]),
            forces=forces[i],
            id=id_of(i),
            info={"source": src, "frame": i},
        )
        for i in range(n_frames)
    ]
