"""Encoding of the DeNS noise scale sigma into the node features (Table 1e index 5 ablation).

The paper says only that it tried encoding sigma and that DeNS works better without it
(arXiv 2403.09549 v1, text line 564; Table 1e index 5). The reading implemented here: a
Gaussian embedding of sigma (Angstrom), a bias-free linear map to the sphere channels,
added to the l = 0 node features of the atoms of noised structures. It is exactly zero where
sigma is 0 (clean structures, validation and test), so an absent ``noise_sigma`` and an
all-zero one give identical outputs, and sigma, a scalar, keeps every symmetry.
"""

from __future__ import annotations

from torch import Tensor, nn

from bench.backbones.so3 import GaussianSmearing

#: Gaussians of the sigma embedding, centres evenly spaced in [0, SIGMA_MAX]
SIGMA_BASIS = 32
#: Angstrom; the largest sigma_high of Table 1a
SIGMA_MAX = 1.0


class SigmaEncoder(nn.Module):
    """``x_sigma = 1[sigma > 0] * W gauss(sigma)``: [N] (Angstrom) -> [N, channels].

    Args:
        channels: sphere channels C of the node features.
        num_basis: Gaussians on ``[0, sigma_max]``.
        sigma_max: Angstrom; larger sigmas sit on the tail of the last Gaussian.
    """

    def __init__(
        self, channels: int, num_basis: int = SIGMA_BASIS, sigma_max: float = SIGMA_MAX
    ) -> None:
        super().__init__()
        self.basis = GaussianSmearing(0.0, sigma_max, num_basis, 1.0)
        self.linear = nn.Linear(num_basis, channels, bias=False)

    def forward(self, sigma: Tensor | None, num_nodes: int, like: Tensor) -> Tensor:
        """sigma [N] or None -> [N, channels] in the dtype/device of ``like`` (zeros for None)."""
        if sigma is None:
            return like.new_zeros(num_nodes, self.linear.out_features)
        sigma = sigma.to(like.dtype)
        noised = (sigma > 0).to(like.dtype)[:, None]
        return noised * self.linear(self.basis(sigma))


__all__ = ["SIGMA_BASIS", "SIGMA_MAX", "SigmaEncoder"]
