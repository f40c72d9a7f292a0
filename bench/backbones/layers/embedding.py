"""Initial node features: atom type, edge degree and (DeNS) force embeddings."""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.layers.attention import SHEdges
from bench.backbones.layers.linear import IrrepsLinear
from bench.backbones.layers.radial import RadialProfile
from bench.backbones.layers.tensor_product import DepthwiseTensorProduct


class AtomEmbedding(nn.Module):
    """Linear map of the one-hot atomic number to ``irreps`` (only its 0e part is non-zero).

    As in the authors' ``NodeEmbeddingNetwork``, the weights start ``sqrt(num_elements)``
    times the linear map's default (so ~ N(0, 1)): a one-hot input has a single non-zero
    channel, and this gives the embedding unit scale. An initialisation, not a forward factor.

    Args:
        num_elements: one-hot size; atomic numbers must be < num_elements.
        irreps: node irreps.
    """

    def __init__(self, num_elements: int, irreps: o3.Irreps) -> None:
        super().__init__()
        if num_elements < 1:
            raise ValueError(f"num_elements must be >= 1, got {num_elements!r}")
        self.num_elements = num_elements
        self.lin = IrrepsLinear(
            f"{num_elements}x0e", irreps, bias=True, init_gain=math.sqrt(num_elements)
        )

    def forward(self, z: Tensor, dtype: torch.dtype) -> Tensor:
        """z long [N] -> [N, irreps.dim]."""
        if z.numel() and int(z.max()) >= self.num_elements:
            raise ValueError(f"atomic number {int(z.max())} >= num_elements {self.num_elements}")
        return self.lin(nn.functional.one_hot(z, self.num_elements).to(dtype))


class SHDegreeEmbedding(nn.Module):
    """Sum over neighbours of a radial-weighted depthwise tensor product ``c (x) Y(r_ij)``
    (Equiformer's ``EdgeDegreeEmbeddingNetwork``; EquiformerV2's, built in edge frames, is
    bench.backbones.equiformer_v2.blocks.FrameDegreeEmbedding).

    ``c`` is a learned constant node feature; the sum is divided by ``sqrt(avg_degree)``.
    """

    def __init__(
        self, irreps: o3.Irreps, irreps_sh: o3.Irreps, radial_sizes: list[int], avg_degree: float
    ) -> None:
        super().__init__()
        if avg_degree <= 0:
            raise ValueError(f"avg_degree must be positive, got {avg_degree!r}")
        self.const = IrrepsLinear("1x0e", irreps, bias=True)
        self.tp = DepthwiseTensorProduct(irreps, irreps_sh, irreps)
        self.radial = RadialProfile([*radial_sizes, self.tp.weight_numel])
        self.proj = IrrepsLinear(self.tp.irreps_out.simplify(), irreps, bias=True)
        self.avg_degree = float(avg_degree)

    def forward(self, edges: SHEdges, num_nodes: int) -> Tensor:
        """-> [num_nodes, irreps.dim]."""
        const = self.const(edges.sh.new_ones(1, 1)).expand(edges.sh.shape[0], -1)
        msg = self.proj(self.tp(const, edges.sh, self.radial(edges.radial)))
        out = msg.new_zeros(num_nodes, msg.shape[1]).index_add(0, edges.dst, msg)
        return out / math.sqrt(self.avg_degree)


def encode_forces(forces: Tensor, lmax: int) -> Tensor:
    """``|f| Y^l(f / |f|) / sqrt(3)`` for l = 0..lmax (e3nn "component" normalisation).

    The l = 1 part equals ``f`` itself; a zero force encodes to exactly zero (no NaN).
    forces [N, 3] (eV/Angstrom) -> [N, (lmax + 1)^2].
    """
    norm = forces.norm(dim=-1, keepdim=True)
    unit = forces / norm.clamp_min(torch.finfo(forces.dtype).tiny)
    sh = o3.spherical_harmonics(list(range(lmax + 1)), unit, False, "component")
    return sh * (norm / math.sqrt(3.0))


class ForceEmbedding(nn.Module):
    """DeNS force encoding: a linear map of :func:`encode_forces` to the node irreps.

    As in the authors' released code the linear map has biases on the 0e outputs; they are
    a constant shift of the node embedding, present whether or not forces are given, so an
    absent force and a zero force give the same features. The force-dependent part is
    exactly zero for a zero force.
    """

    def __init__(self, lmax: int, irreps: o3.Irreps) -> None:
        super().__init__()
        if lmax < 1:
            raise ValueError(f"lmax must be >= 1, got {lmax!r}")
        self.lmax = lmax
        self.lin = IrrepsLinear(o3.Irreps.spherical_harmonics(lmax, p=1), irreps, bias=True)

    def forward(self, forces: Tensor) -> Tensor:
        """forces [N, 3] (bench.data.keys.ENCODED_FORCES; zero rows: nothing to encode) ->
        [N, irreps.dim]."""
        return self.lin(encode_forces(forces, self.lmax))
