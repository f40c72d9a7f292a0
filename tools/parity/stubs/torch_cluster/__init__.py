"""Pure-torch stand-in for torch_cluster.radius_graph, for the parity harness only.

Brute force O(N^2) per structure; edges (source, target) with ``|p_s - p_t| <= r`` (torch_cluster
uses ``<=`` on squared distances), at most ``max_num_neighbors`` sources per target, taken in
index order as torch_cluster's CPU kernel does, ``flow='source_to_target'`` by default.
"""

from __future__ import annotations

import torch

__all__ = ["radius_graph"]


def radius_graph(
    x, r, batch=None, loop=False, max_num_neighbors=32, flow="source_to_target", num_workers=1
):
    n = x.size(0)
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=x.device)
    d2 = (x.unsqueeze(0) - x.unsqueeze(1)).pow(2).sum(-1)  # [target, source]
    ok = (d2 <= r * r) & (batch.unsqueeze(0) == batch.unsqueeze(1))
    if not loop:
        ok.fill_diagonal_(False)
    rank = ok.long().cumsum(dim=1)  # sources in index order per target
    ok &= rank <= max_num_neighbors
    target, source = ok.nonzero(as_tuple=True)
    if flow == "source_to_target":
        return torch.stack([source, target], dim=0)
    return torch.stack([target, source], dim=0)
