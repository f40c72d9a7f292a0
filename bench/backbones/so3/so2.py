"""SO(2) linear maps ("SO(2) convolutions", Passaro & Zitnick 2023) on edge-frame coefficients.

In the edge frame (edge along +y) a rotation by phi about the edge multiplies the pair
``(c_{+m}, c_{-m})`` of every degree by ``exp(i m phi)`` (see
bench.backbones.so3.layout). A map that
mixes degrees and channels freely within one order m, with "complex" weights
``W_r + i W_i``, therefore commutes with those rotations; m = 0 takes any real matrix (plus a
bias). That is an SO(3) convolution with a filter aligned to the edge, at O(L^3) cost.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from bench.backbones.so3.layout import SHLayout
from bench.backbones.so3.radial import RadialFunction


def complex_combine(real_part: Tensor, imag_part: Tensor) -> Tensor:
    """Apply complex weights ``W_r + i W_i`` to ``z = c_{+m} + i c_{-m}``.

    ``real_part`` = W_r applied to rows (c_{+m}, c_{-m}) and ``imag_part`` = W_i applied to the
    same rows, both [E, 2, D]; returns [E, 2, D] rows ``(Re, Im)`` of ``(W_r + i W_i) z``.
    """
    re = real_part[:, 0] - imag_part[:, 1]
    im = real_part[:, 1] + imag_part[:, 0]
    return torch.stack((re, im), dim=1)


def split_orders(x: Tensor, layout: SHLayout) -> list[Tensor]:
    """[E, reduced_dim, C] m-primary coefficients -> [x_0 [E, L+1, C], x_1 [E, 2, n_1*C], ...].

    ``x_m`` (m > 0) has rows (+m, -m), each flattening (degree, channel) degree-major.
    """
    sizes = [layout.m_sizes[0]] + [2 * n for n in layout.m_sizes[1:]]
    parts = torch.split(x, sizes, dim=1)
    return [parts[0]] + [p.unflatten(1, (2, -1)).flatten(2) for p in parts[1:]]


class SO2Linear(nn.Module):
    """SO(2)-equivariant linear map [E, reduced_dim, C_in] -> [E, reduced_dim, C_out].

    One matrix per order m (m = 0 with bias, m > 0 complex, bias-free) mixing all degrees
    ``l >= m`` and channels. With ``radial_channels`` the inputs are first multiplied
    element-wise by a radial MLP of the invariant edge features (EquiformerV2's SO(2)
    convolution); ``extra_m0_channels`` extra invariant outputs of the m = 0 matrix are
    returned separately (attention logits and gates).

    Args:
        layout: degrees and orders of the edge-frame coefficients.
        in_channels, out_channels: channel widths.
        extra_m0_channels: extra scalar outputs [E, extra] (0: none).
        radial_channels: ``[edge_feature_dim, hidden...]`` of the radial MLP, or None.
    """

    def __init__(
        self,
        layout: SHLayout,
        in_channels: int,
        out_channels: int,
        extra_m0_channels: int = 0,
        radial_channels: list[int] | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1 or extra_m0_channels < 0:
            raise ValueError(
                f"bad widths: in={in_channels!r}, out={out_channels!r}, extra={extra_m0_channels!r}"
            )
        self.layout, self.out_channels, self.extra = layout, out_channels, extra_m0_channels
        n0 = layout.m_sizes[0]
        self.fc_m0 = nn.Linear(n0 * in_channels, n0 * out_channels + extra_m0_channels)
        nn.init.zeros_(self.fc_m0.bias)
        self.fc_m = nn.ModuleList()
        for n in layout.m_sizes[1:]:
            fc = nn.Linear(n * in_channels, 2 * n * out_channels, bias=False)
            fc.weight.data.mul_(1 / math.sqrt(2))
            self.fc_m.append(fc)
        self.in_sizes = [n * in_channels for n in layout.m_sizes]
        self.radial = None
        if radial_channels is not None:
            self.radial = RadialFunction(list(radial_channels) + [sum(self.in_sizes)])

    def forward(self, x: Tensor, edge_scalars: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x [E, reduced_dim, C_in], edge_scalars [E, F] -> [E, reduced_dim, C_out], [E, extra]."""
        parts = split_orders(x, self.layout)
        parts[0] = parts[0].flatten(1)
        if self.radial is not None:
            weights = torch.split(self.radial(edge_scalars), self.in_sizes, dim=1)
            parts = [parts[0] * weights[0]] + [
                p * w[:, None] for p, w in zip(parts[1:], weights[1:], strict=True)
            ]
        out0 = self.fc_m0(parts[0])
        extra, out0 = out0.split([self.extra, out0.shape[1] - self.extra], dim=1)
        outs = [out0.unflatten(1, (-1, self.out_channels))]
        for fc, part in zip(self.fc_m, parts[1:], strict=True):
            real_part, imag_part = fc(part).chunk(2, dim=-1)
            out = complex_combine(real_part, imag_part)
            outs.append(out.flatten(1).unflatten(1, (-1, self.out_channels)))
        return torch.cat(outs, dim=1), extra
