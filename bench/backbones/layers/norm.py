"""Equivariant layer normalisation over the channels of an irreps feature."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.layers.concat import concat


class EquivariantLayerNorm(nn.Module):
    """Layer norm for features of ``irreps`` (Equiformer's "V2" form), per node.

    For each irreps block ``mul x ir`` (viewed as ``[..., mul, 2l+1]``): scalars (0e) are
    centred over their channels; every block is divided by the root of its mean squared
    component (averaged over channels, plus ``eps``), scaled by a learned weight per channel,
    and scalars get a learned bias. Rotations commute with it.

    Args:
        irreps: irreps of the feature, e.g. ``128x0e+64x1e+32x2e``.
        eps: added to the mean square before the square root.
    """

    def __init__(self, irreps: o3.Irreps | str, eps: float = 1e-5) -> None:
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        self.eps = eps
        n_scalar = sum(mul for mul, ir in self.irreps if ir == o3.Irrep("0e"))
        self.weight = nn.Parameter(torch.ones(self.irreps.num_irreps))
        self.bias = nn.Parameter(torch.zeros(n_scalar))

    def forward(self, x: Tensor) -> Tensor:
        """[N, irreps.dim] -> [N, irreps.dim]."""
        out, iw, ib = [], 0, 0
        fields = x.split([mul * ir.dim for mul, ir in self.irreps], dim=-1)
        for (mul, ir), field in zip(self.irreps, fields, strict=True):
            field = field.reshape(-1, mul, ir.dim)
            scalar = ir == o3.Irrep("0e")
            if scalar:
                field = field - field.mean(dim=1, keepdim=True)
            inv = (field.pow(2).mean(dim=(1, 2), keepdim=True) + self.eps).rsqrt()
            field = field * inv * self.weight[iw : iw + mul].reshape(1, mul, 1)
            iw += mul
            if scalar:
                field = field + self.bias[ib : ib + mul].reshape(1, mul, 1)
                ib += mul
            out.append(field.reshape(-1, mul * ir.dim))
        return concat(out, dim=-1)
