"""All pairs within a cutoff, periodic images included: vesin's cell-list search (O(N)).

The one place that calls vesin (https://github.com/Luthaf/vesin): float64 numpy in and out,
searched on the CPU with torch's thread count. bench.data.graphs converts from and back to
torch and owns the selection rules (the neighbour cap and its ties).
"""

from __future__ import annotations

import numpy as np
import torch
from vesin import NeighborList

__all__ = ["neighbor_pairs"]

_NO_CELL = np.zeros((3, 3))


def neighbor_pairs(
    pos: np.ndarray, cutoff: float, cell: np.ndarray | None = None, pbc: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i, j, S) of one structure with ``|pos[j] - pos[i] + S @ cell| < cutoff``.

    S is an integer cell offset, non-zero only along periodic directions. Self-images
    (i == j, S != 0) are pairs, the self-pair (i == j, S = 0) is not; each pair appears in
    both directions ((i, j, S) and (j, i, -S)). The order of the pairs is unspecified.

    Args:
        pos: [N, 3] positions, Angstrom (float64).
        cutoff: Angstrom, > 0.
        cell: [3, 3] lattice vectors as rows, Angstrom; needed when any ``pbc``.
        pbc: [3] bool, periodic directions; None or all False for a molecule.

    Returns:
        ``i`` [E] int64 (centre), ``j`` [E] int64 (neighbour), ``shift`` [E, 3] int64 (S) and
        ``dist`` [E] float64, Angstrom.
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff!r}")
    periodic = np.zeros(3, dtype=bool) if pbc is None else np.asarray(pbc, dtype=bool)
    if periodic.any() and cell is None:
        raise ValueError("periodic structure without a cell")
    box = np.asarray(cell, dtype=np.float64) if periodic.any() else _NO_CELL
    if periodic.any() and abs(np.linalg.det(box)) < 1e-9:
        raise ValueError(f"periodic structure with a singular cell: {box.tolist()}")
    search = NeighborList(cutoff=float(cutoff), full_list=True, n_threads=torch.get_num_threads())
    points = np.ascontiguousarray(pos, dtype=np.float64)
    i, j, s, d = search.compute(points, box, periodic.tolist(), quantities="ijSd", copy=False)
    keep = d < cutoff  # strict, as the edge convention (bench.data.keys) states
    if keep.all():  # vesin's own test is strict too; the copies below make the arrays ours
        return i.astype(np.int64), j.astype(np.int64), s.astype(np.int64), d.copy()
    return i[keep].astype(np.int64), j[keep].astype(np.int64), s[keep].astype(np.int64), d[keep]
