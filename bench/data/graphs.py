"""Radius graphs of batches of molecules and periodic cells (the latter on vesin's pair search).

Convention (see bench.data.keys): ``edge_index[0]`` is the source j (neighbour),
``edge_index[1]`` the target i (centre); ``edge_vec = pos[j] - pos[i] + shift``.
Graph construction runs without autograd; the model recomputes ``edge_vec`` from
``pos`` so gradients flow through positions.

Periodic batches: vesin's cell-list pair search (bench.data.neighbors), once per structure, in
float64 on the CPU; edges come back on the input's device. Molecule batches: a dense distance
matrix per molecule on the input's device (0.4 ms for 8 aspirins where per-structure vesin
calls take 2.6 ms, and no copy off a GPU). Edge order (what the neighbour cap's tie rule sees):
by structure, then by the image offset of the neighbour relative to the wrapped cell
(lexicographically; always 0 for a molecule), then by centre, then by neighbour: the order of
the all-pairs search this module used before vesin, so graphs and capped graphs are unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bench.data.neighbor_rules import check_rule, fairchem_keep, search_cutoff
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
        counts = torch.bincount(batch, minlength=cell.shape[0]).tolist()
        src, dst, offset, per_struct = _batch_pairs(
            pos, counts, cell, pbc, search_cutoff(check_rule(rule), cutoff)
        )
        # shift = S @ cell per structure (edges are grouped by structure), in pos.dtype
        lattice, offset = cell.to(pos.dtype), offset.to(pos.dtype)
        blocks = torch.split(offset, per_struct)
        shift = torch.cat([offset[:0], *(o @ lattice[b] for b, o in enumerate(blocks))])
        if rule != "nearest":
            strict = rule == "fairchem-strict"
            keep = fairchem_keep(
                pos, batch, cell, pbc, (src, dst, shift), cutoff, max_neighbors, strict
            )
            src, dst, shift = src[keep], dst[keep], shift[keep]
        elif max_neighbors is not None:
            dist = (pos[src] - pos[dst] + shift).norm(dim=-1)
            keep = _cap_neighbors(dst, dist, max_neighbors)
            src, dst, shift = src[keep], dst[keep], shift[keep]
        return torch.stack([src, dst]), shift


def _batch_pairs(
    pos: Tensor, counts: list[int], cell: Tensor, pbc: Tensor, cutoff: float
) -> tuple[Tensor, Tensor, Tensor, list[int]]:
    """(src j, dst i, integer offset S [E, 3]) of a batch in the module's edge order, on
    ``pos.device`` (indices batch-global), and the number of edges of each structure."""
    pos64 = pos.detach().to("cpu", torch.float64).numpy()
    cell64 = cell.detach().to("cpu", torch.float64).numpy()
    pbc_np = pbc.detach().cpu().numpy().astype(bool)
    parts, start = [], 0
    for b, n in enumerate(counts):
        dst, src, offset = _no_pairs()
        if n:
            dst, src, offset, _ = neighbor_pairs(
                pos64[start : start + n], cutoff, cell64[b], pbc_np[b]
            )
        parts.append((dst + start, src + start, offset))
        start += n
    dst, src, offset = (np.concatenate(x) for x in zip(_no_pairs(), *parts, strict=True))
    per_struct = [len(p[0]) for p in parts]
    struct = np.repeat(np.arange(len(parts)), per_struct)
    wrap = _wrap(pos.detach(), counts, cell.detach(), pbc)
    order = np.argsort(_order_key(struct, offset, wrap, dst, src))  # keys are unique
    src, dst, offset = (torch.from_numpy(x[order]).to(pos.device) for x in (src, dst, offset))
    return src, dst, offset, per_struct


def _no_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64)


def _wrap(pos: Tensor, counts: list[int], cell: Tensor, pbc: Tensor) -> np.ndarray:
    """[N, 3] int64 cells of the atoms along periodic directions: pos = wrapped + wrap @ cell,
    computed in ``pos.dtype`` as the former all-pairs search did (it fixes the edge order)."""
    wraps, start = [], 0
    for b, n in enumerate(counts):
        p = pos[start : start + n]
        if n and bool(pbc[b].any()):
            frac = p @ torch.linalg.inv(cell[b].to(pos.dtype))
            wraps.append(torch.floor(frac) * pbc[b].to(pos.dtype))
        else:
            wraps.append(torch.zeros_like(p))
        start += n
    return torch.cat(wraps).to(torch.long).cpu().numpy() if wraps else np.zeros((0, 3), np.int64)


def _order_key(
    struct: np.ndarray, offset: np.ndarray, wrap: np.ndarray, dst: np.ndarray, src: np.ndarray
) -> np.ndarray:
    """[E] int64 key sorting edges by (struct, image, dst, src), ``image = offset + wrap[src] -
    wrap[dst]`` compared lexicographically; images are coded linearly (base ``width``, wider
    than any component's range) so that per-atom codes of ``wrap`` need only 1-D gathers."""
    if len(dst) == 0:
        return dst
    width = int(np.ptp(offset) + 2 * np.ptp(wrap)) + 1
    radix = np.array([width * width, width, 1])
    image = offset @ radix
    code = wrap @ radix
    image += code[src] - code[dst]
    image -= image.min()
    n, span = len(wrap), int(image.max()) + 1
    if (int(struct[-1]) + 1) * span * n * n >= 2**62:
        raise ValueError(f"{n} atoms over {span} image codes: edge order key overflows int64")
    key = struct * span + image
    key *= n
    key += dst
    key *= n
    key += src
    return key
