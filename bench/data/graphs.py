"""Neighbour lists in pure torch (PyG's radius_graph needs pyg-lib, unavailable here).

Convention (see bench.data.keys): ``edge_index[0]`` is the source j (neighbour),
``edge_index[1]`` the target i (centre); ``edge_vec = pos[j] - pos[i] + shift``.
Graph construction runs without autograd; the model recomputes ``edge_vec`` from
``pos`` so gradients flow through positions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.data.neighbor_rules import check_rule, fairchem_keep, search_cutoff


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
            d = torch.cdist(p, p, compute_mode="donot_use_mm_for_euclid_dist")
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
    rule: str = "nearest",
) -> tuple[Tensor, Tensor]:
    """Radius graph for a batch: periodic images when any ``pbc`` is set, else molecular.

    Args:
        pos: [N, 3] Angstrom; batch: [N]; cell: [B, 3, 3] rows are lattice vectors; pbc: [B, 3].
        rule: which edges the neighbour cap keeps (bench.data.neighbor_rules).

    Returns:
        ``edge_index`` [2, E] and ``edge_shift`` [E, 3] in Angstrom.
    """
    if pbc is not None and bool(pbc.any()):
        if cell is None:
            raise ValueError("periodic batch without a cell")
        return periodic_radius_graph(pos, batch, cell, pbc, cutoff, max_neighbors, rule)
    if check_rule(rule) != "nearest":  # fairchem's rule on molecules: no periodic images
        n_struct = int(batch.max()) + 1 if batch.numel() else 0
        cell = pos.new_zeros(n_struct, 3, 3)
        pbc = torch.zeros(n_struct, 3, dtype=torch.bool, device=pos.device)
        return periodic_radius_graph(pos, batch, cell, pbc, cutoff, max_neighbors, rule)
    return radius_graph(pos, batch, cutoff, max_neighbors)


def periodic_radius_graph(
    pos: Tensor,
    batch: Tensor,
    cell: Tensor,
    pbc: Tensor,
    cutoff: float,
    max_neighbors: int | None = None,
    rule: str = "nearest",
) -> tuple[Tensor, Tensor]:
    """Radius graph over all periodic images within ``cutoff`` (not only the minimum image).

    Every pair (i, j, S) with ``|pos[j] - pos[i] + S @ cell| < cutoff`` is an edge, S an integer
    cell offset along the periodic directions; self-images (i == j, S != 0) are included, the
    self-loop (S = 0) is not. Structures whose ``pbc`` is all False get a molecular graph.

    Args:
        pos: [N, 3] Angstrom; batch: [N] structure index of each atom.
        cell: [B, 3, 3] lattice vectors as rows, Angstrom; non-singular where periodic.
        pbc: [B, 3] bool; cutoff: Angstrom; max_neighbors: keep that many nearest per centre.
        rule: which edges the cap keeps: ``nearest`` (ties by edge order) or a fairchem rule
            (bench.data.neighbor_rules; also its candidate test, even without a cap).

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
            src, dst, shift = _cell_edges(
                pos[off : off + n], cell[b], pbc[b], search_cutoff(check_rule(rule), cutoff)
            )
            src_all.append(src + off)
            dst_all.append(dst + off)
            shift_all.append(shift)
        if not src_all:
            empty = pos.new_zeros(0, dtype=torch.long)
            return torch.stack([empty, empty]), pos.new_zeros(0, 3)
        src, dst, shift = torch.cat(src_all), torch.cat(dst_all), torch.cat(shift_all)
        if rule != "nearest":
            strict = rule == "fairchem-strict"
            keep = fairchem_keep(pos, batch, cell, pbc, (src, dst, shift), cutoff, max_neighbors,
                                 strict)
            src, dst, shift = src[keep], dst[keep], shift[keep]
        elif max_neighbors is not None:
            dist = (pos[src] - pos[dst] + shift).norm(dim=-1)
            keep = _cap_neighbors(dst, dist, max_neighbors)
            src, dst, shift = src[keep], dst[keep], shift[keep]
        return torch.stack([src, dst]), shift


#: pair distances evaluated per chunk of images: bounds memory to about this many entries
_PAIRS_PER_CHUNK = 1 << 22


def _cell_edges(
    pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Edges (src j, dst i, shift in Angstrom) of one structure, all images within cutoff."""
    if not bool(pbc.any()):
        edge_index, shift = radius_graph(pos, pos.new_zeros(len(pos), dtype=torch.long), cutoff)
        return edge_index[0], edge_index[1], shift
    if abs(float(torch.linalg.det(cell))) < 1e-9:
        raise ValueError(f"periodic structure with a singular cell: {cell.tolist()}")
    # Wrap into the cell along periodic directions: pos = wrapped + wrap @ cell.
    frac = pos @ torch.linalg.inv(cell)
    wrap = torch.floor(frac) * pbc.to(pos.dtype)
    wrapped = pos - wrap @ cell
    images = _image_offsets(cell, pbc, cutoff)  # [M, 3]
    n = pos.shape[0]
    chunk = max(1, _PAIRS_PER_CHUNK // (n * n))
    src_all, dst_all, img_all = [], [], []
    for start in range(0, images.shape[0], chunk):
        img = images[start : start + chunk]
        shifted = wrapped.unsqueeze(0) + (img @ cell).unsqueeze(1)  # [m, n, 3] neighbours j
        d = torch.cdist(
            wrapped.expand(len(img), n, 3), shifted, compute_mode="donot_use_mm_for_euclid_dist"
        )  # [m, i, j]
        mask = d < cutoff
        zero = (img == 0).all(dim=1)
        mask[zero] &= ~torch.eye(n, dtype=torch.bool, device=pos.device)
        m, i, j = mask.nonzero(as_tuple=True)
        src_all.append(j)
        dst_all.append(i)
        img_all.append(m + start)
    src, dst, m = torch.cat(src_all), torch.cat(dst_all), torch.cat(img_all)
    # Back to the caller's (unwrapped) positions: S = S' - wrap_j + wrap_i.
    offset = images[m] - wrap[src] + wrap[dst]
    return src, dst, offset @ cell


def _image_offsets(cell: Tensor, pbc: Tensor, cutoff: float) -> Tensor:
    """[M, 3] integer cell offsets (as ``cell.dtype``) that can hold a neighbour within cutoff.

    With fractional coordinates in [0, 1), a neighbour within ``cutoff`` lies at most
    ``ceil(cutoff / h_k)`` cells away along k, ``h_k`` the spacing of the lattice planes.
    """
    volume = torch.linalg.det(cell).abs()
    cross = torch.linalg.cross(cell[[1, 2, 0]], cell[[2, 0, 1]])  # a_j x a_k for each k
    spacing = volume / cross.norm(dim=1)
    reach = torch.ceil(cutoff / spacing).long() * pbc.long()
    axes = [torch.arange(-r, r + 1, device=cell.device) for r in reach.tolist()]
    grid = torch.cartesian_prod(*axes)
    return grid.to(cell.dtype)
