"""Radius graphs of batches (molecules and periodic cells), on vesin's pair search.

Convention (see bench.data.keys): ``edge_index[0]`` is the source j (neighbour),
``edge_index[1]`` the target i (centre); ``edge_vec = pos[j] - pos[i] + shift``.
Graph construction runs without autograd; the model recomputes ``edge_vec`` from
``pos`` so gradients flow through positions.

Edge order (what the neighbour cap's tie rule sees): per structure, edges are sorted by the
image offset of the neighbour relative to the wrapped cell (lexicographically; always 0 for a
molecule), then by centre, then by neighbour: the order of the all-pairs search this module
used before vesin (bench.data.neighbors), so graphs and capped graphs are unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.data.neighbors import neighbor_pairs


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
    cell = pos.new_zeros(int(batch.max()) + 1 if batch.numel() else 0, 3, 3)
    pbc = torch.zeros(cell.shape[0], 3, dtype=torch.bool, device=pos.device)
    return periodic_radius_graph(pos, batch, cell, pbc, cutoff, max_neighbors)


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
    """Radius graph over all periodic images within ``cutoff`` (not only the minimum image).

    Every pair (i, j, S) with ``|pos[j] - pos[i] + S @ cell| < cutoff`` is an edge, S an integer
    cell offset along the periodic directions; self-images (i == j, S != 0) are included, the
    self-loop (S = 0) is not. Structures whose ``pbc`` is all False get a molecular graph.

    Args:
        pos: [N, 3] Angstrom; batch: [N] structure index of each atom.
        cell: [B, 3, 3] lattice vectors as rows, Angstrom; non-singular where periodic.
        pbc: [B, 3] bool; cutoff: Angstrom; max_neighbors: keep that many nearest per centre.

    Returns:
        ``edge_index`` [2, E] (row 0 source j, row 1 target i) and ``edge_shift`` [E, 3],
        Angstrom, so that ``edge_vec = pos[src] - pos[dst] + edge_shift``.
    """
    with torch.no_grad():
        counts = torch.bincount(batch, minlength=cell.shape[0])
        offsets = torch.cumsum(counts, 0) - counts
        src_all, dst_all, shift_all = [], [], []
        for b, (off, n) in enumerate(zip(offsets.tolist(), counts.tolist(), strict=True)):
            if n == 0:
                continue
            src, dst, shift = _cell_edges(pos[off : off + n], cell[b], pbc[b], cutoff)
            src_all.append(src + off)
            dst_all.append(dst + off)
            shift_all.append(shift)
        if not src_all:
            empty = pos.new_zeros(0, dtype=torch.long)
            return torch.stack([empty, empty]), pos.new_zeros(0, 3)
        src, dst, shift = torch.cat(src_all), torch.cat(dst_all), torch.cat(shift_all)
        if max_neighbors is not None:
            dist = (pos[src] - pos[dst] + shift).norm(dim=-1)
            keep = _cap_neighbors(dst, dist, max_neighbors)
            src, dst, shift = src[keep], dst[keep], shift[keep]
        return torch.stack([src, dst]), shift


def _cell_edges(
    pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Edges (src j, dst i, shift in Angstrom) of one structure, all images within cutoff,
    in the module's edge order."""
    dst, src, offset, _ = neighbor_pairs(pos, cutoff, cell, pbc)
    if not bool(pbc.any()):
        key = dst * len(pos) + src
        order = torch.argsort(key)
        return src[order], dst[order], pos.new_zeros(len(order), 3)
    # Offset of j's image from the wrapped cell (pos = wrapped + wrap @ cell), as before vesin.
    wrap = (torch.floor(pos @ torch.linalg.inv(cell)) * pbc.to(pos.dtype)).long()
    image = offset + wrap[src] - wrap[dst]
    order = torch.argsort(_order_key(image, dst, src, len(pos)))
    src, dst, offset = src[order], dst[order], offset[order]
    return src, dst, offset.to(pos.dtype) @ cell


def _order_key(image: Tensor, dst: Tensor, src: Tensor, n: int) -> Tensor:
    """[E] int64 key sorting edges by (image[:, 0], image[:, 1], image[:, 2], dst, src)."""
    low = image.min(dim=0).values if len(image) else image.new_zeros(3)
    rel = image - low
    width = int(rel.max()) + 1 if len(rel) else 1
    if width**3 * n * n >= 2**62:
        raise ValueError(f"{n} atoms over {width}^3 images: edge order key overflows int64")
    key = (rel[:, 0] * width + rel[:, 1]) * width + rel[:, 2]
    return (key * n + dst) * n + src
