"""Which edges within the cutoff a neighbour cap keeps: dens-bench's rule and fairchem's.

``nearest`` (bench.data.graphs): each centre keeps its ``max_neighbors`` nearest edges, ties
broken by edge order. ``fairchem-strict`` and ``fairchem-tolerant`` reproduce fairchem's
``radius_graph_pbc`` + ``get_max_neighbors_mask`` (fairchem/core/common/utils.py, tag
fairchem_core-1.9.0) exactly, the selection the released OC20 / OC22 models were trained with:

- candidates are ranked by *squared* distances computed as fairchem computes them on its
  float32 LMDB data: ``sum((pos_i - (pos_j + cell^T S))**2)`` in float32, the offsets
  ``cell^T S`` from one batched matrix product over the image grid;
- a candidate has ``d^2 <= cutoff^2`` and ``d^2 > 1e-4`` A^2, and ``|S_k| <= ceil(cutoff / h_k)``
  (``h_k`` the lattice-plane spacing, maximised over the batch) along periodic directions;
- each centre's candidates, in fairchem's order (neighbour j, then image S lexicographically),
  are padded to the batch's largest neighbour count and sorted with ``torch.sort`` as fairchem
  does; among exactly equal float32 distances that order decides, as it does for fairchem on
  the same device and torch version;
- ``fairchem-strict`` (``enforce_max_neighbors_strictly: True``, the released OC20 configs and
  fairchem's default) keeps the first ``max_neighbors``; ``fairchem-tolerant`` (``False``, the
  released OC22 EquiformerV2 config) keeps every candidate with
  ``d^2 <= d^2_(max_neighbors + 1) + 0.01`` A^2 (fairchem's ``degeneracy_tolerance``, which it
  adds to squared distances).

Molecules (no periodic direction) go through the same code with no images, as
``radius_graph_pbc`` treats them (fairchem models built with ``use_pbc: False`` use
torch_cluster's radius_graph instead, which is not reproduced here).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["NEIGHBOR_RULES", "check_rule", "fairchem_keep", "search_cutoff"]

#: selection rules a backbone's ``neighbor_rule`` may name
NEIGHBOR_RULES = ("nearest", "fairchem-strict", "fairchem-tolerant")
#: fairchem's get_max_neighbors_mask degeneracy_tolerance, added to squared distances (A^2)
DEGENERACY_TOLERANCE = 0.01
#: radius_graph_pbc drops pairs with squared distance at or below this (A^2): the same atom
SAME_ATOM_SQR = 1e-4


def check_rule(rule: str) -> str:
    """``rule`` if it is one of NEIGHBOR_RULES, else ValueError naming the choices."""
    if rule not in NEIGHBOR_RULES:
        raise ValueError(f"neighbor_rule must be one of {NEIGHBOR_RULES}, got {rule!r}")
    return rule


def search_cutoff(rule: str, cutoff: float) -> float:
    """Cutoff of the pair search feeding ``rule``: fairchem's float32 test ``d^2 <= cutoff^2`` can
    admit pairs a float64 ``d < cutoff`` search misses, so its rules search slightly wider."""
    return cutoff if rule == "nearest" else cutoff * (1 + 1e-5) + 1e-6


def fairchem_keep(
    pos: Tensor,
    batch: Tensor,
    cell: Tensor,
    pbc: Tensor,
    edges: tuple[Tensor, Tensor, Tensor],
    cutoff: float,
    max_neighbors: int | None,
    strict: bool,
) -> Tensor:
    """Boolean mask over candidate edges: the ones fairchem's ``radius_graph_pbc`` keeps.

    Args:
        pos: [N, 3] Angstrom; batch: [N] structure of each atom; cell: [B, 3, 3] rows are
            lattice vectors, Angstrom; pbc: [B, 3] bool (as fairchem: the same in every
            structure).
        edges: ``(src j, dst i, shift)``, shift [E, 3] in Angstrom, every pair within
            ``search_cutoff`` (any order).
        cutoff: Angstrom; max_neighbors: the cap (None or <= 0: no cap, as fairchem).
        strict: ``enforce_max_neighbors_strictly``.

    Returns:
        [E] bool.
    """
    src, dst, shift = edges
    pos32, cell32 = pos.float(), cell.float()
    reach = _reach(cell32, pbc, cutoff)
    periodic = pbc.any(dim=1)
    safe = torch.where(periodic[:, None, None], cell, torch.eye(3, dtype=cell.dtype))
    image = torch.einsum("ek,ekl->el", shift, torch.linalg.inv(safe)[batch[dst]])
    image = torch.round(image).long()
    d2 = _squared_distances(pos32, cell32, batch, src, dst, image, reach)
    candidate = (d2 <= cutoff * cutoff) & (d2 > SAME_ATOM_SQR) & (image.abs() <= reach).all(1)
    idx = candidate.nonzero().flatten()
    n = pos.shape[0]
    width = [2 * r + 1 for r in reach.tolist()]
    cell_key = ((image[idx, 0] + reach[0]) * width[1] + image[idx, 1] + reach[1]) * width[2]
    cell_key = cell_key + image[idx, 2] + reach[2]
    order = torch.argsort((dst[idx] * n + src[idx]) * math.prod(width) + cell_key)
    idx = idx[order]
    keep = torch.zeros_like(candidate)
    keep[idx[_max_neighbors_mask(dst[idx], d2[idx], n, max_neighbors, strict)]] = True
    return keep


def _reach(cell32: Tensor, pbc: Tensor, cutoff: float) -> Tensor:
    """[3] long: image repetitions along each axis, fairchem's ``max_rep`` (float32 maths)."""
    a1, a2, a3 = cell32[:, 0], cell32[:, 1], cell32[:, 2]
    vol = torch.sum(a1 * torch.cross(a2, a3, dim=-1), dim=-1, keepdim=True)
    reach = []
    for k, (u, v) in enumerate(((a2, a3), (a3, a1), (a1, a2))):
        if bool(pbc[:, k].any()):
            rep = torch.ceil(cutoff * torch.norm(torch.cross(u, v, dim=-1) / vol, p=2, dim=-1))
            reach.append(int(rep.max()))
        else:
            reach.append(0)
    return torch.tensor(reach, device=cell32.device)


def _squared_distances(
    pos32: Tensor,
    cell32: Tensor,
    batch: Tensor,
    src: Tensor,
    dst: Tensor,
    image: Tensor,
    reach: Tensor,
) -> Tensor:
    """[E] float32 squared distances, bit for bit as radius_graph_pbc computes them."""
    axes = [torch.arange(-r, r + 1, device=pos32.device, dtype=torch.float) for r in reach.tolist()]
    grid = torch.cartesian_prod(*axes).reshape(-1, 3)  # [M, 3], fairchem's unit_cell order
    grid_b = grid.T.reshape(1, 3, -1).expand(cell32.shape[0], -1, -1)
    offsets = torch.bmm(cell32.transpose(1, 2), grid_b)  # [B, 3, M]
    width = (2 * reach + 1).tolist()
    clipped = image.clamp(min=-reach, max=reach) + reach
    m = (clipped[:, 0] * width[1] + clipped[:, 1]) * width[2] + clipped[:, 2]
    off = offsets[batch[dst], :, m]  # [E, 3]
    sq = (pos32[dst] - (pos32[src] + off)) ** 2
    return sq.view(-1, 3, 1).sum(dim=1).view(-1)


def _max_neighbors_mask(
    index: Tensor, dist2: Tensor, num_atoms: int, max_neighbors: int | None, strict: bool
) -> Tensor:
    """fairchem's get_max_neighbors_mask for candidates sorted by centre ``index``: [E] bool."""
    counts = torch.bincount(index, minlength=num_atoms)
    if max_neighbors is None or max_neighbors <= 0 or not len(index):
        return torch.ones_like(index, dtype=torch.bool)
    if int(counts.max()) <= max_neighbors:
        return torch.ones_like(index, dtype=torch.bool)
    width = int(counts.max())
    start = torch.cumsum(counts, 0) - counts
    slot = index * width + torch.arange(len(index), device=index.device) - start[index]
    table = torch.full([num_atoms * width], math.inf, device=index.device, dtype=torch.float)
    table.index_copy_(0, slot, dist2)
    table, rank = torch.sort(table.view(num_atoms, width), dim=1)
    if strict:
        table, rank = table[:, :max_neighbors], rank[:, :max_neighbors]
    else:
        included = table <= (table[:, max_neighbors] + DEGENERACY_TOLERANCE)[:, None]
        table = table.masked_fill(~included, math.inf)
    chosen = (rank + start[:, None])[torch.isfinite(table)]
    mask = torch.zeros_like(index, dtype=torch.bool)
    mask[chosen] = True
    return mask
