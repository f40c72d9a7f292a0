"""EquiformerV2 blocks: edge-degree embedding and the pre-norm transformer block."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bench.backbones.equiformer_v2.attention import SO2GraphAttention
from bench.backbones.equiformer_v2.ffn import GridFeedForward
from bench.backbones.equiformer_v2.norm import SeparableLayerNorm
from bench.backbones.layers.drop import GraphDropPath
from bench.backbones.so3 import FrameEdges, RadialFunction, SHLayout


class FrameDegreeEmbedding(nn.Module):
    """Initial equivariant node features from the neighbourhood geometry, built in edge
    frames (EquiformerV2's ``EdgeDegreeEmbedding``; Equiformer's is
    bench.backbones.layers.SHDegreeEmbedding).

    A radial MLP of ``[Gaussians(|r_ij|), emb(z_j), emb(z_i)]`` gives order-0 coefficients of
    every degree in the edge frame; they are rotated back, summed at i and divided by
    ``avg_degree``. [E edges] -> [N, (lmax+1)**2, C].
    """

    def __init__(
        self,
        layout: SHLayout,
        channels: int,
        radial_channels: list[int],
        num_elements: int,
        avg_degree: float,
    ) -> None:
        super().__init__()
        edge_channels = radial_channels[-1]
        self.channels, self.avg_degree = channels, avg_degree
        self.source_embedding = nn.Embedding(num_elements, edge_channels)
        self.target_embedding = nn.Embedding(num_elements, edge_channels)
        for emb in (self.source_embedding, self.target_embedding):
            nn.init.uniform_(emb.weight, -0.001, 0.001)
        radial = [radial_channels[0] + 2 * edge_channels, *radial_channels[1:]]
        self.radial = RadialFunction(radial + [(layout.lmax + 1) * channels])

    def forward(self, edges: FrameEdges) -> Tensor:
        edge_scalars = torch.cat(
            (
                edges.distance_basis,
                self.source_embedding(edges.z_src),
                self.target_embedding(edges.z_dst),
            ),
            dim=1,
        )
        m0 = self.radial(edge_scalars).unflatten(1, (-1, self.channels))
        return edges.scatter(edges.rotation.rotate_back_m0(m0)) / self.avg_degree


class TransformerBlock(nn.Module):
    """``x + drop(attn(norm_1(x)))`` then ``x + drop(ffn(norm_2(x)))``, [N, K, C] -> [N, K, C].

    ``drop`` is per-structure drop path (stochastic depth), active in training only.
    """

    def __init__(
        self,
        attention: SO2GraphAttention,
        ffn: GridFeedForward,
        lmax: int,
        channels: int,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        self.norm_1 = SeparableLayerNorm(lmax, channels)
        self.attention = attention
        self.norm_2 = SeparableLayerNorm(lmax, channels)
        self.ffn = ffn
        self.drop_path = GraphDropPath(drop_path_rate)

    def forward(self, x: Tensor, edges: FrameEdges, batch: Tensor) -> Tensor:
        x = x + self._drop(self.attention(self.norm_1(x), edges), batch)
        return x + self._drop(self.ffn(self.norm_2(x)), batch)

    def _drop(self, x: Tensor, batch: Tensor) -> Tensor:
        return self.drop_path(x.flatten(1), batch).view_as(x)
