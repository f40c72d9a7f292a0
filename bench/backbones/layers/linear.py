"""Equivariant linear map between irreps features (channel mixing within each irrep type)."""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.layers.concat import concat


class IrrepsLinear(nn.Module):
    """``y = x W (+ b on 0e outputs)``, mixing channels of the same irrep.

    Parametrised as the authors' ``LinearRS`` (an e3nn tensor product with
    ``path_normalization='none'`` whose weights are rescaled at init): ``W ~ N(0, 1 / fan_in)``
    with fan_in the number of input channels of that irrep, and no factor in the forward pass.
    At init this is the function of ``e3nn.o3.Linear`` (``W ~ N(0, 1)``, forward divided by
    ``sqrt(fan_in)``), but the parameters are on the reference's scale, so AdamW steps and
    weight decay act on them as in the reference. One matmul per output irrep, so that forward
    and double backward stay cheap; the autograd graph holds each input block, not a view into
    a wider ``x``. Output irreps with no matching input are zero.

    Args:
        irreps_in / irreps_out: feature irreps ([..., irreps_in.dim] -> [..., irreps_out.dim]).
        bias: learned bias on every 0e output channel (zero-initialised).
        init_gain: the weights start ``init_gain`` times the above, ``N(0, init_gain^2 /
            fan_in)`` (bench.backbones.layers.init reads it for its other schemes).
    """

    def __init__(
        self,
        irreps_in: o3.Irreps | str,
        irreps_out: o3.Irreps | str,
        bias: bool = False,
        init_gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.init_gain = float(init_gain)
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.in_dims = [mul * ir.dim for mul, ir in self.irreps_in]
        #: per output block: input block indices of the same irrep, fan_in, mul_out, dim
        self.plan: list[tuple[list[int], int, int, int]] = []
        self.weights = nn.ParameterDict()  # output block index -> [fan_in, mul_out]
        self.biases = nn.ParameterDict()  # output block index -> [mul_out], 0e outputs only
        for k, (mul_out, ir) in enumerate(self.irreps_out):
            sources = [i for i, (_, ir_in) in enumerate(self.irreps_in) if ir_in == ir]
            fan_in = sum(self.irreps_in[i].mul for i in sources)
            if fan_in:
                weight = torch.randn(fan_in, mul_out) / math.sqrt(fan_in)
                if init_gain != 1.0:
                    weight = weight * init_gain
                self.weights[str(k)] = nn.Parameter(weight)
            if bias and ir == o3.Irrep("0e"):
                self.biases[str(k)] = nn.Parameter(torch.zeros(mul_out))
            self.plan.append((sources, fan_in, mul_out, ir.dim))

    def forward(self, x: Tensor) -> Tensor:
        """[..., irreps_in.dim] -> [..., irreps_out.dim]."""
        lead = x.shape[:-1]
        x_blocks = x.split(self.in_dims, dim=-1) if len(self.in_dims) > 1 else [x]
        blocks = []
        for k, (sources, fan_in, mul_out, dim) in enumerate(self.plan):
            if fan_in:
                parts = [x_blocks[i].reshape(*lead, self.irreps_in[i].mul, dim) for i in sources]
                xin = concat(parts, dim=-2)
                if dim == 1:  # matmul would save a view, keeping all of x (a message) alive
                    xin = xin.contiguous()
                w = self.weights[str(k)].to(x.dtype)
                y = (xin.transpose(-1, -2) @ w).transpose(-1, -2)
            else:
                y = x.new_zeros(*lead, mul_out, dim)
            if str(k) in self.biases:
                y = y + self.biases[str(k)].to(x.dtype).unsqueeze(-1)
            blocks.append(y.reshape(*lead, mul_out * dim))
        return concat(blocks, dim=-1)
