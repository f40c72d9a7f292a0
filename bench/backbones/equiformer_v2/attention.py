"""EquiformerV2's equivariant graph attention built on SO(2) convolutions."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.utils import softmax

from bench.backbones.layers.attention import smooth_leaky_relu
from bench.backbones.so3 import FrameEdges, S2Grid, SHLayout, SO2Linear, SO3Linear


class SO2GraphAttention(nn.Module):
    """Multi-head attention with non-linear messages, all in the edge frame.

    For edge j -> i: concatenate the channels of x_j and x_i, rotate into the edge frame, SO(2)
    convolution with radial weights from ``[Gaussians(|r_ij|), emb(z_j), emb(z_i)]`` (plus extra
    m = 0 outputs: attention features and gates), separable S2 activation, second SO(2)
    convolution -> values. Logits per head: LayerNorm (attention re-normalisation), smooth
    leaky ReLU, dot product; softmax over the neighbours of i. Weighted values are rotated back,
    summed at i and mapped by a per-degree linear layer to ``out_channels``.

    Args:
        layout: node degrees (lmax) and edge-frame orders (mmax).
        channels: input sphere channels C.
        hidden_channels: width of the first SO(2) convolution (attention hidden).
        num_heads, alpha_channels, value_channels: heads, logit features and value channels
            per head.
        out_channels: output channels (1 for force and noise heads).
        edge_grid: S2 grid of the edge-frame coefficients for the S2 activation.
        radial_channels: ``[num_distance_basis, edge_channels, edge_channels]``.
        num_elements: size of the atom-type embeddings of edges.
        alpha_drop: dropout on attention weights (training only).
    """

    def __init__(
        self,
        layout: SHLayout,
        channels: int,
        hidden_channels: int,
        num_heads: int,
        alpha_channels: int,
        value_channels: int,
        out_channels: int,
        edge_grid: S2Grid,
        radial_channels: list[int],
        num_elements: int,
        alpha_drop: float = 0.0,
    ) -> None:
        super().__init__()
        edge_channels = radial_channels[-1]
        self.num_heads, self.alpha_channels = num_heads, alpha_channels
        self.hidden_channels = hidden_channels
        self.source_embedding = nn.Embedding(num_elements, edge_channels)
        self.target_embedding = nn.Embedding(num_elements, edge_channels)
        for emb in (self.source_embedding, self.target_embedding):
            nn.init.uniform_(emb.weight, -0.001, 0.001)
        radial = [radial_channels[0] + 2 * edge_channels, *radial_channels[1:]]
        self.conv_1 = SO2Linear(
            layout,
            2 * channels,
            hidden_channels,
            extra_m0_channels=num_heads * alpha_channels + hidden_channels,
            radial_channels=radial,
        )
        self.alpha_norm = nn.LayerNorm(alpha_channels)
        self.alpha_dot = nn.Parameter(torch.empty(num_heads, alpha_channels))
        bound = 1.0 / math.sqrt(alpha_channels)
        nn.init.uniform_(self.alpha_dot, -bound, bound)
        self.alpha_dropout = nn.Dropout(alpha_drop)
        self.edge_grid = edge_grid
        self.conv_2 = SO2Linear(layout, hidden_channels, num_heads * value_channels)
        self.proj = SO3Linear(num_heads * value_channels, out_channels, layout.lmax)
        low = torch.cat((layout.reduced_positions(0), layout.reduced_positions(1)))
        self.register_buffer("low_positions", low, persistent=False)

    def forward(self, x: Tensor, edges: FrameEdges) -> Tensor:
        """x [N, (lmax+1)**2, C] -> [N, (lmax+1)**2, out_channels]."""
        values = self._edge_values(x, edges)
        return self.proj(edges.scatter(edges.rotation.rotate_back(values)))

    def low_degrees(self, x: Tensor, edges: FrameEdges) -> Tensor:
        """Degrees 0 and 1 of the output: x [N, (lmax+1)**2, C] -> [N, 4, out_channels].

        Equals ``forward(x, edges)[:, :4]``; rotating back, summing and projecting only these
        coefficients saves most of that work (force and noise heads read l = 1).
        """
        values = self._edge_values(x, edges).index_select(1, self.low_positions)
        rotated = edges.rotation.rotate_back_low(values, self.low_positions, 1)
        return self.proj(edges.scatter(rotated))

    def _edge_values(self, x: Tensor, edges: FrameEdges) -> Tensor:
        """Attention-weighted edge-frame values [E, reduced_dim, heads * value_channels]."""
        edge_scalars = torch.cat(
            (
                edges.distance_basis,
                self.source_embedding(edges.z_src),
                self.target_embedding(edges.z_dst),
            ),
            dim=1,
        )
        pair = torch.cat((x.index_select(0, edges.src), x.index_select(0, edges.dst)), dim=2)
        message = edges.rotation.rotate(pair)
        message, extra = self.conv_1(message, edge_scalars)
        alpha_feat, gates = extra.split(
            [self.num_heads * self.alpha_channels, self.hidden_channels], dim=1
        )
        message = self._separable_s2_act(message, gates)
        values, _ = self.conv_2(message)
        alpha = self._attention_weights(alpha_feat, edges)  # [E, heads]
        values = values.unflatten(2, (self.num_heads, -1))
        return (values * alpha[:, None, :, None]).flatten(2)

    def _separable_s2_act(self, message: Tensor, gates: Tensor) -> Tensor:
        """SiLU on the l = 0 channel (from ``gates``), S2 activation on the other coefficients."""
        act = nn.functional.silu
        rest = self.edge_grid.from_grid(act(self.edge_grid.to_grid(message)))[:, 1:]
        return torch.cat((act(gates)[:, None], rest), dim=1)

    def _attention_weights(self, alpha_feat: Tensor, edges: FrameEdges) -> Tensor:
        """Per-head weights [E, heads], softmax over the incoming edges of each centre."""
        alpha = alpha_feat.view(-1, self.num_heads, self.alpha_channels)
        alpha = smooth_leaky_relu(self.alpha_norm(alpha))
        logits = torch.einsum("ehk,hk->eh", alpha, self.alpha_dot)
        return self.alpha_dropout(softmax(logits, edges.dst, num_nodes=edges.num_nodes, dim=0))
