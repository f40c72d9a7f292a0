"""DeNS force encoding for SH-feature networks (Eq. 5 of the DeNS paper).

``x_f = SO3Linear(|f| Y(f / |f|) / sqrt(3))`` with e3nn's component-normalised real spherical
harmonics of degrees 0..lmax, so the l = 1 part of the embedding is the force itself
(eV/Angstrom), as in the released code. A zero force embeds to exactly zero (no NaN).
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.so3.linear import SO3Linear


def force_sh(forces: Tensor, lmax: int) -> Tensor:
    """[N, 3] forces (eV/Angstrom) -> [N, (lmax+1)**2, 1]: ``|f| Y(f/|f|) / sqrt 3``; 0 at f = 0."""
    norm = forces.norm(dim=-1, keepdim=True)
    unit = forces / norm.clamp_min(torch.finfo(forces.dtype).tiny)
    sh = o3.spherical_harmonics(
        list(range(lmax + 1)), unit, normalize=False, normalization="component"
    )
    return (sh * norm / math.sqrt(3.0)).unsqueeze(-1)


class ForceEncoder(nn.Module):
    """Node embedding of encoded forces: [N, 3] -> [N, (lmax+1)**2, channels].

    The force-dependent part ``W_l (|f| Y_l(f/|f|) / sqrt 3)`` is bias-free, hence exactly zero
    for zero forces. The l = 0 ``bias`` reproduces the released DeNS models, whose force
    embedding is an SO(3) linear layer with a bias applied to every atom whether or not a
    force is encoded: it is added always, so an absent ``encoded_forces`` and all-zero ones
    give identical embeddings.

    Args:
        channels: sphere channels of the node features.
        lmax: maximum degree.
        init_bound: weights uniform in ``+-init_bound`` (EquiformerV2: 1; eSCN: 0.001).
    """

    def __init__(self, channels: int, lmax: int, init_bound: float) -> None:
        super().__init__()
        self.lmax = lmax
        self.linear = SO3Linear(1, channels, lmax, bias=True, init_bound=init_bound)

    def forward(self, forces: Tensor | None, num_nodes: int, like: Tensor) -> Tensor:
        """forces [N, 3] or None -> [N, (lmax+1)**2, channels] (dtype/device of ``like``)."""
        if forces is None:
            sh = like.new_zeros(num_nodes, (self.lmax + 1) ** 2, 1)
        else:
            sh = force_sh(forces.to(like.dtype), self.lmax)
        return self.linear(sh)
