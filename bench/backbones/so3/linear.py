"""Equivariant linear map of SH features: one channel-mixing matrix per degree."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bench.backbones.so3.layout import SHLayout


class SO3Linear(nn.Module):
    """``y_{l m} = W_l x_{l m}`` (+ a bias on l = 0): [N, (lmax+1)**2, C_in] -> [..., C_out].

    Args:
        in_channels, out_channels: channel widths.
        lmax: maximum degree (all ``2l + 1`` orders of each degree share ``W_l``).
        bias: add a learned bias to the l = 0 coefficient (the only equivariant bias).
        init_bound: weights uniform in ``+-init_bound`` (default ``1/sqrt(in_channels)``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lmax: int,
        bias: bool = True,
        init_bound: float | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be positive, got {in_channels!r}, {out_channels!r}")
        self.in_channels, self.out_channels, self.lmax = in_channels, out_channels, lmax
        bound = 1 / math.sqrt(in_channels) if init_bound is None else init_bound
        self.weight = nn.Parameter(torch.empty(lmax + 1, out_channels, in_channels))
        nn.init.uniform_(self.weight, -bound, bound)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("degree", SHLayout(lmax, 0).degree_index(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """[N, K, C_in] -> [N, K, C_out]: the first K coefficients (all, or degrees 0..l)."""
        weight = self.weight.index_select(0, self.degree[: x.shape[1]])  # [K, C_out, C_in]
        out = torch.einsum("nki,koi->nko", x, weight)
        if self.bias is not None:
            out = out + F.pad(self.bias[None], (0, 0, 0, out.shape[1] - 1))
        return out
