"""Invariant edge features: Gaussian distance expansion and radial MLPs."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class GaussianSmearing(nn.Module):
    """``exp(-(d - mu_k)^2 / (2 (width * delta)^2))`` on ``num`` centres evenly spaced in
    ``[start, stop]`` (Angstrom), delta their spacing: [E] -> [E, num] (no parameters).
    """

    def __init__(self, start: float, stop: float, num: int, width: float) -> None:
        super().__init__()
        if num < 2 or stop <= start or width <= 0:
            raise ValueError(
                f"bad Gaussian smearing: start={start!r}, stop={stop!r}, "
                f"num={num!r}, width={width!r}"
            )
        offset = torch.linspace(start, stop, num, dtype=torch.float64)
        self.num = num
        self.coeff = -0.5 / (width * (offset[1] - offset[0]).item()) ** 2
        self.register_buffer("offset", offset, persistent=False)

    def forward(self, dist: Tensor) -> Tensor:
        return torch.exp(self.coeff * (dist[:, None] - self.offset.to(dist.dtype)) ** 2)


class RadialFunction(nn.Sequential):
    """``Linear -> LayerNorm -> SiLU`` for every hidden width, then a final Linear with a bias
    (EquiformerV2's ``RadialFunction``; Equiformer's is bench.backbones.layers.RadialProfile).

    ``channels = [in, hidden..., out]``. Weights are uniform in ``+-1/sqrt(fan_in)`` and biases
    zero (EquiformerV2's radial-function initialisation).
    """

    def __init__(self, channels: list[int]) -> None:
        if len(channels) < 2 or min(channels) < 1:
            raise ValueError(f"channels must list >= 2 positive widths, got {channels!r}")
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            linear = nn.Linear(c_in, c_out)
            nn.init.uniform_(linear.weight, -1 / math.sqrt(c_in), 1 / math.sqrt(c_in))
            nn.init.zeros_(linear.bias)
            layers.append(linear)
            if i < len(channels) - 2:
                layers += [nn.LayerNorm(c_out), nn.SiLU()]
        super().__init__(*layers)
