"""Radial features of edge lengths: exponential-normal basis and the radial MLP."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class ExpNormalBasis(nn.Module):
    """Exponential-normal radial basis with a cosine cutoff (PhysNet / TorchMD-Net form).

    ``b_k(d) = c(d) * exp(-beta * (exp(-alpha * d) - mu_k)^2)`` with ``alpha = 5 / cutoff``,
    ``mu_k`` evenly spaced in ``[exp(-cutoff), 1]``, ``beta = (2 (1 - exp(-cutoff)) / K)^-2``
    and ``c(d) = (cos(pi d / cutoff) + 1) / 2`` for ``d < cutoff``, else 0.

    Args:
        num_basis: K, the number of basis functions.
        cutoff: cutoff radius, Angstrom.
    """

    def __init__(self, num_basis: int, cutoff: float) -> None:
        super().__init__()
        if num_basis < 1:
            raise ValueError(f"num_basis must be >= 1, got {num_basis!r}")
        if cutoff <= 0:
            raise ValueError(f"cutoff must be positive, got {cutoff!r}")
        self.cutoff = float(cutoff)
        self.alpha = 5.0 / self.cutoff
        start = math.exp(-self.cutoff)
        self.register_buffer("means", torch.linspace(start, 1.0, num_basis))
        self.register_buffer("betas", torch.full((num_basis,), (2 / num_basis * (1 - start)) ** -2))

    def forward(self, dist: Tensor) -> Tensor:
        """[E] distances (Angstrom) -> [E, K] basis values."""
        d = dist.unsqueeze(-1)
        envelope = 0.5 * (torch.cos(d * math.pi / self.cutoff) + 1.0) * (d < self.cutoff)
        return envelope * torch.exp(-self.betas * (torch.exp(-self.alpha * d) - self.means) ** 2)


class RadialProfile(nn.Sequential):
    """MLP mapping radial features to tensor-product weights (Equiformer's ``RadialProfile``;
    not the EquiformerV2 radial function, bench.backbones.so3.RadialFunction).

    Each hidden layer is Linear -> LayerNorm -> SiLU; the last layer is a bias-free Linear
    plus ``offset``, the authors' ``RadialProfile``: as there, ``offset`` is not a bias for
    weight decay (it is decayed; their optimiser skips names ending in ``.bias`` only).
    Initialised as theirs inside their models: PyTorch's default weights, hidden biases zero
    (their ``_init_weights``), ``offset ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    Args:
        sizes: ``[in, hidden..., out]`` feature sizes.
    """

    def __init__(self, sizes: list[int]) -> None:
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list >= 2 positive sizes, got {sizes!r}")
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
            hidden = nn.Linear(n_in, n_out)
            nn.init.zeros_(hidden.bias)
            layers += [hidden, nn.LayerNorm(n_out), nn.SiLU()]
        layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
        super().__init__(*layers)
        bound = 1.0 / math.sqrt(sizes[-2])
        self.offset = nn.Parameter(torch.empty(sizes[-1]).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        """[..., sizes[0]] -> [..., sizes[-1]]."""
        return super().forward(x) + self.offset
