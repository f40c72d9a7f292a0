"""Neighbour lists in pure torch (PyG's radius_graph needs pyg-lib, unavailable here).

Convention (see bench.data.keys): ``edge_index[0]`` is the source j (neighbour),
``edge_index[1]`` the target i (centre); ``edge_vec = pos[j] - pos[i] + shift``.
Graph construction runs without autograd; the model recomputes ``edge_vec`` from
``pos`` so gradients flow through positions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _cap_neighbors(dst: Tensor, dist: Tensor, max_neighbors: int) -> Tensor:
    """Boolean mask keeping, for each centre ``dst``, its ``max_neighbors`` nearest edges.

    Ties are broken by edge order (stable sort), so the result is deterministic.
    """
    order = torch.argsort(dist, stable=True)
    order = order[torch.argsort(dst[order], stable=True)]
    sorted_dst = dst[order]
    counts = torch.bincount(sorted_dst)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(order.numel(), device=dst.device) - starts[sorted_dst]
    keep = torch.zeros_like(dst, dtype=torch.bool)
    keep[order[rank < max_neighbors]] = True
    return keep


def radius_graph(
    pos: Tensor, batch: Tensor, cutoff: float, max_neighbors: int | None = None
) -> tuple[Tensor, Tensor]:
    """Non-periodic radius graph over a batch of molecules.

    Args:
        pos: [N, 3] positions, Angstrom.
        batch: [N] structure index of each atom.
        cutoff: edges with ``|r_ij| < cutoff`` (Angstrom); no self-loops.
        max_neighbors: keep at most this many nearest neighbours per centre.

    Returns:
        ``edge_index`` [2, E] (row 0 source j, row 1 target i) and ``edge_shift`` [E, 3] (zeros).
    """
    with torch.no_grad():
        src_all, dst_all = [], []
        # Block-diagonal: distances only within a structure; O(sum n_b^2) memory.
        counts = torch.bincount(batch)
        offsets = torch.cumsum(counts, 0) - counts
        for off, n in zip(offsets.tolist(), counts.tolist(), strict=True):
            if n == 0:
                continue
            p = pos[off : off + n]
            d = torch.cdist(p, p)
            m = d < cutoff
            m.fill_diagonal_(False)
            dst, src = m.nonzero(as_tuple=True)
            src_all.append(src + off)
            dst_all.append(dst + off)
        src = torch.cat(src_all) if src_all else pos.new_zeros(0, dtype=torch.long)
        dst = torch.cat(dst_all) if dst_all else pos.new_zeros(0, dtype=torch.long)
        if max_neighbors is not None:
            dist = (pos[src] - pos[dst]).norm(dim=-1)
            keep = _cap_neighbors(dst, dist, max_neighbors)
            src, dst = src[keep], dst[keep]
        edge_index = torch.stack([src, dst])
        return edge_index, pos.new_zeros(edge_index.shape[1], 3)


def build_graph(
    pos: Tensor,
    batch: Tensor,
    cutoff: float,
    max_neighbors: int | None = None,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Radius graph for a batch: periodic images when any ``pbc`` is set, else molecular.

    Args:
        pos: [N, 3] Angstrom; batch: [N]; cell: [B, 3, 3] rows are lattice vectors; pbc: [B, 3].

    Returns:
        ``edge_index`` [2, E] and ``edge_shift`` [E, 3] in Angstrom.
    """
    if pbc is not None and bool(pbc.any()):
        if cell is None:
            raise ValueError("periodic batch without a cell")
        return periodic_radius_graph(pos, batch, cell, pbc, cutoff, max_neighbors)
    return radius_graph(pos, batch, cutoff, max_neighbors)


def periodic_radius_graph(
    pos: Tensor,
    batch: Tensor,
    cell: Tensor,
    pbc: Tensor,
    cutoff: float,
    max_neighbors: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Radius graph over all periodic images within ``cutoff`` (not only the minimum image)."""
    raise NotImplementedError("periodic graphs: data layer")
