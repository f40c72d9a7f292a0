"""All pairs within a cutoff, periodic images included: vesin's cell-list search (O(N)).

The one place that calls vesin (https://github.com/Luthaf/vesin). Positions are detached and
searched in float64 on the CPU; indices, shifts and distances come back as torch tensors on
the input's device. Selection rules (a neighbour cap and its ties) live in bench.data.graphs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from vesin import NeighborList

__all__ = ["neighbor_pairs"]


def neighbor_pairs(
    pos: Tensor, cutoff: float, cell: Tensor | None = None, pbc: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Every pair (i, j, S) of one structure with ``|pos[j] - pos[i] + S @ cell| < cutoff``.

    S is an integer cell offset, non-zero only along periodic directions. Self-images
    (i == j, S != 0) are pairs, the self-pair (i == j, S = 0) is not; each pair appears in
    both directions ((i, j, S) and (j, i, -S)). The order of the pairs is unspecified.

    Args:
        pos: [N, 3] positions, Angstrom (any float dtype and device; not differentiated).
        cutoff: Angstrom, > 0.
        cell: [3, 3] lattice vectors as rows, Angstrom; needed when any ``pbc``.
        pbc: [3] bool, periodic directions; None or all False for a molecule.

    Returns:
        ``i`` [E] (centre), ``j`` [E] (neighbour), ``shift`` [E, 3] long (S) and
        ``dist`` [E] float64, Angstrom; all on ``pos.device``.
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff!r}")
    periodic = np.zeros(3, dtype=bool) if pbc is None else pbc.detach().cpu().numpy()
    if periodic.any() and cell is None:
        raise ValueError("periodic structure without a cell")
    box = np.zeros((3, 3)) if not periodic.any() else _as_numpy(cell)
    if periodic.any() and abs(np.linalg.det(box)) < 1e-9:
        raise ValueError(f"periodic structure with a singular cell: {box.tolist()}")
    search = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, s, d = search.compute(_as_numpy(pos), box, periodic.tolist(), quantities="ijSd")
    keep = d < cutoff  # strict, as the edge convention (bench.data.keys) states
    device = pos.device
    return (
        torch.as_tensor(i[keep].astype(np.int64), device=device),
        torch.as_tensor(j[keep].astype(np.int64), device=device),
        torch.as_tensor(s[keep].astype(np.int64), device=device),
        torch.as_tensor(d[keep], dtype=torch.float64, device=device),
    )


def _as_numpy(x: Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float64).numpy())
