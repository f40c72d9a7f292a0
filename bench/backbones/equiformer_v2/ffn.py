"""EquiformerV2's feed-forward network: point-wise MLP on an S2 grid (separable)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.backbones.so3 import S2Grid, SO3Linear


class GridFeedForward(nn.Module):
    """Per-degree linear -> grid MLP (SiLU, 3 bias-free linears) -> per-degree linear.

    Separable: the l = 0 channel of the hidden features comes from ``SiLU(Linear(x_0))``
    instead of the grid. [N, (lmax+1)**2, C] -> [N, (lmax+1)**2, out_channels].

    Args:
        lmax: maximum degree.
        channels, hidden_channels, out_channels: widths.
        node_grid: S2 grid of all ``(lmax+1)**2`` coefficients in e3nn order.
    """

    def __init__(
        self, lmax: int, channels: int, hidden_channels: int, out_channels: int, node_grid: S2Grid
    ) -> None:
        super().__init__()
        self.node_grid = node_grid
        self.linear_1 = SO3Linear(channels, hidden_channels, lmax)
        self.scalar_mlp = nn.Sequential(nn.Linear(channels, hidden_channels), nn.SiLU())
        self.grid_mlp = nn.Sequential(
            nn.Linear(hidden_channels, hidden_channels, bias=False),
            nn.SiLU(),
            nn.Linear(hidden_channels, hidden_channels, bias=False),
            nn.SiLU(),
            nn.Linear(hidden_channels, hidden_channels, bias=False),
        )
        self.linear_2 = SO3Linear(hidden_channels, out_channels, lmax)
        nn.init.zeros_(self.scalar_mlp[0].bias)

    def forward(self, x: Tensor) -> Tensor:
        gates = self.scalar_mlp(x[:, 0])
        hidden = self.linear_1(x)
        hidden = self.node_grid.from_grid(self.grid_mlp(self.node_grid.to_grid(hidden)))
        hidden = torch.cat((gates[:, None], hidden[:, 1:]), dim=1)
        return self.linear_2(hidden)
