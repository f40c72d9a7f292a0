"""Regularisers for irreps features: per-structure drop path and per-irrep dropout."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import Tensor, nn


def _check_prob(p: float) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop probability must be in [0, 1), got {p!r}")
    return float(p)


class GraphDropPath(nn.Module):
    """Stochastic depth: drop a residual branch for whole structures with probability ``p``.

    Kept branches are scaled by ``1 / (1 - p)``; identity in eval mode or when ``p == 0``.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = _check_prob(p)

    def forward(self, x: Tensor, batch: Tensor) -> Tensor:
        """x [N, D], batch [N] structure index -> [N, D]."""
        if not self.training or self.p == 0.0:
            return x
        n_struct = int(batch.max()) + 1
        keep = torch.rand(n_struct, 1, dtype=x.dtype, device=x.device) >= self.p
        return x * (keep.to(x.dtype) / (1.0 - self.p))[batch]


class EquivariantDropout(nn.Module):
    """Dropout that zeroes whole irreps (all 2l+1 components together), so it is equivariant.

    Args:
        irreps: irreps of the feature.
        p: probability of dropping one irrep copy; kept ones are scaled by ``1 / (1 - p)``.
    """

    def __init__(self, irreps: o3.Irreps | str, p: float) -> None:
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.p = _check_prob(p)
        index = [
            i
            for i, ir in enumerate(ir for mul, ir in self.irreps for _ in range(mul))
            for _ in range(ir.dim)
        ]
        self.register_buffer("copy_index", torch.tensor(index, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        """[N, irreps.dim] -> [N, irreps.dim]."""
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], self.irreps.num_irreps, dtype=x.dtype, device=x.device)
        keep = (keep >= self.p).to(x.dtype) / (1.0 - self.p)
        return x * keep[:, self.copy_index]
