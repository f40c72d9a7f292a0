"""EquiformerV2's separable equivariant layer norm ("layer_norm_sh")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.backbones.so3.layout import SHLayout


class SeparableLayerNorm(nn.Module):
    """LayerNorm of the l = 0 channels, and one shared RMS rescale of all degrees l > 0.

    For l > 0 the squared coefficients are averaged over the 2l + 1 orders of each degree,
    then over degrees (each degree weighs 1/lmax) and channels, giving one scale per node;
    each degree then gets its own learned per-channel gain. [N, (lmax+1)**2, C] -> same.
    """

    def __init__(self, lmax: int, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        if lmax < 1:
            raise ValueError(f"lmax must be >= 1, got {lmax!r}")
        self.eps = eps
        self.norm_l0 = nn.LayerNorm(channels, eps=eps)
        self.affine_weight = nn.Parameter(torch.ones(lmax, channels))
        degree = SHLayout(lmax, 0).degree_index()[1:]
        balance = 1.0 / ((2 * degree + 1).double() * lmax)
        self.register_buffer("balance", balance, persistent=False)  # [K - 1]
        self.register_buffer("degree", degree - 1, persistent=False)  # [K - 1]

    def forward(self, x: Tensor) -> Tensor:
        scalars = self.norm_l0(x[:, :1])
        rest = x[:, 1:]
        power = torch.einsum("nkc,k->nc", rest.pow(2), self.balance.to(x.dtype))
        scale = (power.mean(dim=1, keepdim=True) + self.eps).rsqrt()  # [N, 1]
        gain = self.affine_weight.index_select(0, self.degree)  # [K - 1, C]
        return torch.cat((scalars, rest * gain * scale[:, :, None]), dim=1)
