"""EquiformerV2 (Liao, Shuaibi, Das & Smidt 2023) with the DeNS extensions of Liao et al. 2024.

Layer structure, widths and initialisation follow the authors' released code (fairchem's
``equiformer_v2`` and atomicarchitects/DeNS ``equiformer_v2_dens``) at the options their
OC20/OC22 configs use: ``layer_norm_sh`` norms, separable S2 activations, grid-MLP
feed-forward networks, attention re-normalisation, atom-type edge embeddings per block,
uniform weight initialisation. Trainable parameter counts equal the released models exactly
(see bench/backbones/presets/equiformer_v2.yaml; the released non-DeNS OC22 model also holds 90
frozen per-element energy references, which bench.backbones.base keeps as its ``atom_ref`` buffer).
Differences in implementation, not in architecture: edge frames are deterministic (the
released code draws a random roll about each edge; only the grid quadrature can tell them
apart) and Wigner-D matrices are polynomials of the frame matrix, never detached, so gradient
forces are exact.

Gradient forces (MD17-style training) are an option the paper does not use with this model;
two known pitfalls: OC20-strength regularisation (alpha_drop 0.1, drop path 0.05-0.1) hurts on
small molecules, and detaching the Wigner-D rotation (as fairchem's eSCN does) silently breaks
gradient forces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from bench.backbones.base import AtomInputs, AtomOutputs, Backbone, Graph, HeadRequest
from bench.backbones.equiformer_v2.attention import SO2GraphAttention
from bench.backbones.equiformer_v2.blocks import FrameDegreeEmbedding, TransformerBlock
from bench.backbones.equiformer_v2.ffn import GridFeedForward
from bench.backbones.equiformer_v2.norm import SeparableLayerNorm
from bench.backbones.equiformer_v2.sigma import SigmaEncoder
from bench.backbones.options import check_fields, check_graph
from bench.backbones.so3 import (
    EdgeRotationBuilder,
    ForceEncoder,
    FrameEdges,
    GaussianSmearing,
    S2Grid,
    SHLayout,
    default_resolution,
)
from bench.data.neighbor_rules import NEIGHBOR_RULES

#: OC20 statistics the released models normalise sums with (IS2RE 100k).
AVG_NUM_NODES = 77.81317
AVG_DEGREE = 23.395238876342773


@dataclass(frozen=True)
class EquiformerV2Config:
    """The architecture of :class:`EquiformerV2` (``model.options``; presets in
    presets/equiformer_v2.yaml). Every field is a keyword argument of EquiformerV2 (its
    docstring says what each does); ``force_encoding``, ``noise_head`` and ``encode_sigma``
    come from the method.
    """

    num_layers: int = 12  # transformer blocks, >= 1
    sphere_channels: int = 128  # node feature channels C, >= 1
    attn_hidden_channels: int = 64  # first SO(2) convolution width in attention, >= 1
    num_heads: int = 8  # attention heads, >= 1
    attn_alpha_channels: int = 64  # attention-logit width per head, >= 1
    attn_value_channels: int = 16  # value width per head, >= 1
    ffn_hidden_channels: int = 128  # feed-forward width, >= 1
    lmax: int = 6  # highest degree, >= 1 (forces are l = 1)
    mmax: int = 2  # highest order kept in edge frames, in [0, lmax]
    grid_resolution: int | None = 18  # S2 grid points per axis, >= 1 (None: defaults)
    edge_channels: int = 128  # radial MLP and edge embedding width, >= 1
    num_distance_basis: int = 600  # Gaussians on [0, cutoff], >= 1
    num_elements: int = 90  # atom types embedded, >= 1
    alpha_drop: float = 0.1  # attention dropout, in [0, 1)
    drop_path_rate: float = 0.05  # per-structure drop path, in [0, 1)
    avg_num_nodes: float = AVG_NUM_NODES  # energy-sum normaliser (atoms per structure), > 0
    avg_degree: float = AVG_DEGREE  # edge-degree embedding normaliser, > 0
    cutoff: float = 12.0  # Angstrom, > 0
    max_neighbors: int | None = 20  # >= 1 (None: all)
    neighbor_rule: str = "nearest"  # one of bench.data.neighbor_rules.NEIGHBOR_RULES
    force_mode: str = "direct"  # "direct" or "gradient"
    checkpoint_blocks: bool = False  # activation checkpointing (same results, less memory)

    def __post_init__(self) -> None:
        check_graph(self)
        sizes = (
            "num_layers",
            "sphere_channels",
            "attn_hidden_channels",
            "num_heads",
            "attn_alpha_channels",
            "attn_value_channels",
            "ffn_hidden_channels",
            "lmax",
            "grid_resolution",
            "edge_channels",
            "num_distance_basis",
            "num_elements",
        )
        check_fields(
            self,
            neighbor_rule=NEIGHBOR_RULES,
            **dict.fromkeys(sizes, ">= 1"),
            **dict.fromkeys(("alpha_drop", "drop_path_rate"), "in [0, 1)"),
            **dict.fromkeys(("avg_num_nodes", "avg_degree"), "> 0"),
        )
        if not 0 <= self.mmax <= self.lmax:
            raise ValueError(f"mmax must be in [0, lmax={self.lmax}], got {self.mmax!r}")


class EquiformerV2(Backbone):
    """Equivariant graph-attention transformer on SO(2) convolutions.

    Energy: per-atom grid feed-forward head, summed per structure and divided by
    ``avg_num_nodes``. Direct forces: one more SO(2) graph-attention block with one output
    channel whose l = 1 coefficients are the force. With ``force_encoding``: a force encoding
    (per-degree linear map of the force's SH embedding, bench.backbones.so3.force_encoding) added to
    the initial node features; with ``noise_head``: a noise head that is another such attention
    block. Both heads compute only their outputs of degree <= 1, and run only on the edges into
    the atoms their :class:`HeadRequest` names (zeros elsewhere). With ``encode_sigma``
    (Table 1e index 5): the
    noise std of each atom's structure (``noise_sigma``, Angstrom) embedded into the l = 0
    features of the noised structures' atoms (bench.backbones.equiformer_v2.sigma).

    Args:
        num_layers: transformer blocks.
        sphere_channels: channels C of the node features [N, (lmax+1)**2, C].
        attn_hidden_channels: width of the first SO(2) convolution in attention.
        num_heads, attn_alpha_channels, attn_value_channels: attention heads and their widths.
        ffn_hidden_channels: feed-forward width.
        lmax, mmax: maximum degree of node features, maximum order kept in edge frames.
        grid_resolution: S2 grid points per axis (None: 2(lmax+1) x (2 mmax + 1)-style defaults).
        edge_channels: width of radial MLPs and atom-type edge embeddings.
        num_distance_basis: Gaussians on [0, cutoff] (the released code uses 600 whatever its
            config says).
        num_elements: atom types embedded (atomic numbers must be below it).
        alpha_drop, drop_path_rate: attention dropout and per-structure drop path (training).
        avg_num_nodes, avg_degree: normalisers of the energy sum and the edge-degree embedding.
        neighbor_rule: which edges within the cutoff the cap keeps: ``nearest``, or fairchem's
            selection (``fairchem-strict``, ``fairchem-tolerant``; bench.data.neighbor_rules),
            the default of the OC20/OC22 presets.
        cutoff, max_neighbors, force_mode, force_encoding, noise_head: see
            bench.backbones.base.Backbone.
        encode_sigma: add the sigma embedding (needs ``noise_head``; the sigma-encoding
            ablation).
        checkpoint_blocks: activation checkpointing: keep only each block's input during the
            forward and recompute the block in the backward (less memory, ~1/3 more compute;
            same results).
    """

    name = "equiformer-v2"
    Config: ClassVar[type] = EquiformerV2Config
    repeated_blocks = "blocks"
    reflection_equivariant = False
    sigma_encoding = True

    def __init__(
        self,
        num_layers: int = 12,
        sphere_channels: int = 128,
        attn_hidden_channels: int = 64,
        num_heads: int = 8,
        attn_alpha_channels: int = 64,
        attn_value_channels: int = 16,
        ffn_hidden_channels: int = 128,
        lmax: int = 6,
        mmax: int = 2,
        grid_resolution: int | None = 18,
        edge_channels: int = 128,
        num_distance_basis: int = 600,
        num_elements: int = 90,
        alpha_drop: float = 0.1,
        drop_path_rate: float = 0.05,
        avg_num_nodes: float = AVG_NUM_NODES,
        avg_degree: float = AVG_DEGREE,
        cutoff: float = 12.0,
        max_neighbors: int | None = 20,
        neighbor_rule: str = "nearest",
        force_mode: str = "direct",
        force_encoding: bool = False,
        noise_head: bool = False,
        encode_sigma: bool = False,
        checkpoint_blocks: bool = False,
    ) -> None:
        super().__init__(
            cutoff,
            max_neighbors,
            force_mode,
            force_encoding=force_encoding,
            noise_head=noise_head,
            encode_sigma=encode_sigma,
            neighbor_rule=neighbor_rule,
        )
        if encode_sigma and not noise_head:
            raise ValueError("encode_sigma needs noise_head=True (sigma is a denoising input)")
        self.checkpoint_blocks = bool(checkpoint_blocks)
        _check_positive(
            num_layers=num_layers,
            sphere_channels=sphere_channels,
            num_heads=num_heads,
            attn_hidden_channels=attn_hidden_channels,
            attn_alpha_channels=attn_alpha_channels,
            attn_value_channels=attn_value_channels,
            ffn_hidden_channels=ffn_hidden_channels,
            edge_channels=edge_channels,
            num_elements=num_elements,
            avg_degree=avg_degree,
            avg_num_nodes=avg_num_nodes,
        )
        if lmax < 1:
            raise ValueError(f"lmax must be >= 1 (forces are l = 1), got {lmax!r}")
        self.layout = SHLayout(lmax, mmax)
        self.num_elements, self.avg_num_nodes = num_elements, float(avg_num_nodes)
        self.sphere_embedding = nn.Embedding(num_elements, sphere_channels)
        self.distance_expansion = GaussianSmearing(0.0, cutoff, num_distance_basis, 2.0)
        self.rotation = EdgeRotationBuilder(self.layout, rescale=True)
        self._node_grid, self._edge_grid = _grids(self.layout, grid_resolution)
        radial = [num_distance_basis, edge_channels, edge_channels]
        self.edge_degree_embedding = FrameDegreeEmbedding(
            self.layout, sphere_channels, radial, num_elements, avg_degree
        )

        def attention(out_channels: int, drop: float) -> SO2GraphAttention:
            return SO2GraphAttention(
                self.layout,
                sphere_channels,
                attn_hidden_channels,
                num_heads,
                attn_alpha_channels,
                attn_value_channels,
                out_channels,
                self._edge_grid,
                radial,
                num_elements,
                drop,
            )

        def ffn(out_channels: int) -> GridFeedForward:
            return GridFeedForward(
                lmax, sphere_channels, ffn_hidden_channels, out_channels, self._node_grid
            )

        self.blocks = nn.ModuleList(
            TransformerBlock(
                attention(sphere_channels, alpha_drop),
                ffn(sphere_channels),
                lmax,
                sphere_channels,
                drop_path_rate,
            )
            for _ in range(num_layers)
        )
        self.norm = SeparableLayerNorm(lmax, sphere_channels)
        self.energy_head = ffn(1)
        self.force_head = attention(1, 0.0) if force_mode == "direct" else None
        self.force_encoder = ForceEncoder(sphere_channels, lmax, 1.0) if force_encoding else None
        self.noise_head = attention(1, 0.0) if noise_head else None
        self.sigma_encoder = SigmaEncoder(sphere_channels) if encode_sigma else None

    def compute(self, inputs: AtomInputs, graph: Graph, heads: HeadRequest) -> AtomOutputs:
        """Normalised per-atom energy [N] (before :meth:`scale_energy`), direct forces [N, 3]
        and noise [N, 3] when configured."""
        z = inputs.z
        if int(z.max()) >= self.num_elements:
            raise ValueError(f"atomic number {int(z.max())} >= num_elements={self.num_elements}")
        edges = self._edge_context(z, graph)
        x = self._embed(inputs, edges)
        for block in self.blocks:
            if self.checkpoint_blocks and torch.is_grad_enabled():
                x = checkpoint(block, x, edges, inputs.batch, use_reentrant=False)
            else:
                x = block(x, edges, inputs.batch)
        x = self.norm(x)
        atom_energy = self.energy_head(x)[:, 0, 0]
        forces = noise = None
        if self.force_head is not None:
            forces = self.force_head.low_degrees(x, edges.incoming(heads.force_atoms))[:, 1:4, 0]
        if self.noise_head is not None:
            noise = self.noise_head.low_degrees(x, edges.incoming(heads.noise_atoms))[:, 1:4, 0]
        return AtomOutputs(atom_energy, forces, noise)

    def scale_energy(self, energy: Tensor) -> Tensor:
        """The per-structure sum [B] divided by ``avg_num_nodes`` (released model)."""
        return energy / self.avg_num_nodes

    def _edge_context(self, z: Tensor, graph: Graph) -> FrameEdges:
        return FrameEdges(
            src=graph.src,
            dst=graph.dst,
            num_nodes=z.shape[0],
            rotation=self.rotation(graph.edge_vec),
            distance_basis=self.distance_expansion(graph.edge_len),
            z_src=z[graph.src],
            z_dst=z[graph.dst],
        )

    def _embed(self, inputs: AtomInputs, edges: FrameEdges) -> Tensor:
        """Initial node features [N, (lmax+1)**2, C]: atom type (l = 0), force encoding (DeNS),
        sigma encoding (l = 0, when built with it), edge-degree embedding."""
        z, pos, n = inputs.z, inputs.pos, inputs.z.shape[0]
        x = F.pad(self.sphere_embedding(z)[:, None], (0, 0, 0, self.layout.dim - 1)).to(pos.dtype)
        if self.force_encoder is not None:
            x = x + self.force_encoder(inputs.encoded_forces, n, like=pos)
        if self.sigma_encoder is not None:
            sigma = self.sigma_encoder(inputs.noise_sigma, n, pos)
            x = x + F.pad(sigma[:, None], (0, 0, 0, self.layout.dim - 1))
        return x + self.edge_degree_embedding(edges)


def _grids(layout: SHLayout, resolution: int | None) -> tuple[S2Grid, S2Grid]:
    """Component-normalised S2 grids of node features and of m-truncated edge features."""
    res = None if resolution is None else (resolution, resolution)
    lmax, mmax = layout.lmax, layout.mmax
    node = S2Grid.for_nodes(lmax, res or default_resolution(lmax, lmax), "component")
    edge = S2Grid.for_edges(layout, res or default_resolution(lmax, mmax), "component", True)
    return node, edge


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
