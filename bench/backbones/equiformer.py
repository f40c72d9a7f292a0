"""Equiformer (Liao & Smidt, ICLR 2023) as used for MD17, with the DeNS additions.

Our own implementation on e3nn, following the architecture of the authors' MD17 model
(MLP attention, non-linear messages, exponential-normal radial basis, equivariant layer norm,
gate activations) and of their Equiformer + DeNS model. Paper sizes reproduce the authors'
parameter counts exactly (Lmax 2: 3,496,001; + DeNS 4,000,577; Lmax 3: 5,500,865;
+ DeNS 6,354,241). Features are SE(3)-equivariant (all irreps even), not E(3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.base import AtomInputs, AtomOutputs, Backbone, Graph, HeadRequest
from bench.backbones.layers import (
    AtomEmbedding,
    EquivariantDropout,
    EquivariantLayerNorm,
    ExpNormalBasis,
    ForceEmbedding,
    Gate,
    GraphAttention,
    GraphDropPath,
    IrrepsLinear,
    SHDegreeEmbedding,
    SHEdges,
)
from bench.backbones.layers.init import WEIGHT_INITS, apply_weight_init
from bench.backbones.options import check_fields, check_graph

#: channels of degree l are ``channels // divisor[l]``: the paper's Lmax 2 (128, 64, 32) and
#: Lmax 3 (128, 64, 64, 32) node irreps; Lmax 1 (128, 64) is our small variant.
DEGREE_DIVISORS = {1: (1, 2), 2: (1, 2, 4), 3: (1, 2, 2, 4)}
#: statistics the authors use for MD17 (QM9 at cutoff 5 A)
MD17_AVG_DEGREE = 15.57930850982666
MD17_AVG_NUM_ATOMS = 18.03065905448718


def _even_irreps(mults: list[int]) -> o3.Irreps:
    return o3.Irreps([(m, (l, 1)) for l, m in enumerate(mults)])


@dataclass(frozen=True)
class EquiformerIrreps:
    """Every irreps of the network, derived from the node channels of each degree."""

    node: o3.Irreps  # block inputs/outputs and merged messages
    sh: o3.Irreps  # edge spherical harmonics, 1x0e + ... + 1x(lmax)e
    head: o3.Irreps  # one attention head's value: node / num_heads
    mlp_mid: o3.Irreps  # feed-forward hidden: node * mlp_ratio
    feature: o3.Irreps  # last block output: (channels * feature_ratio)x0e, or node *
    # feature_ratio with a noise head (``vector_features``: so it can read vectors)

    @classmethod
    def build(
        cls,
        lmax: int,
        channels: int,
        num_heads: int,
        mlp_ratio: int,
        feature_ratio: int,
        vector_features: bool,
    ) -> EquiformerIrreps:
        if lmax not in DEGREE_DIVISORS:
            raise ValueError(f"lmax must be one of {sorted(DEGREE_DIVISORS)}, got {lmax!r}")
        divisors = DEGREE_DIVISORS[lmax]
        if channels < 1 or num_heads < 1 or any(channels % (d * num_heads) for d in divisors):
            raise ValueError(
                f"channels must be a positive multiple of {max(divisors)} * "
                f"num_heads, got channels={channels!r}, num_heads={num_heads!r}"
            )
        if mlp_ratio < 1 or feature_ratio < 1:
            raise ValueError(f"ratios must be >= 1, got {mlp_ratio!r}, {feature_ratio!r}")
        node = [channels // d for d in divisors]
        feature = (
            [m * feature_ratio for m in node] if vector_features else [channels * feature_ratio]
        )
        return cls(
            node=_even_irreps(node),
            sh=o3.Irreps.spherical_harmonics(lmax, p=1),
            head=_even_irreps([m // num_heads for m in node]),
            mlp_mid=_even_irreps([m * mlp_ratio for m in node]),
            feature=_even_irreps(feature),
        )


@dataclass(frozen=True)
class EquiformerCore:
    """The architecture shared by :class:`Equiformer` and bench.backbones.segnn.SEGNNLike
    (``model.options``; presets in presets/equiformer.yaml and presets/segnn.yaml).

    ``channels`` must be a multiple of ``num_heads`` times the largest divisor of
    DEGREE_DIVISORS[lmax] (checked when the network is built).
    """

    cutoff: float = 5.0  # Angstrom, > 0
    max_neighbors: int | None = None  # >= 1 (None: all neighbours within the cutoff)
    force_mode: str = "gradient"  # "gradient" (F = -dE/dpos) or "direct"
    lmax: int = 2  # highest degree, one of DEGREE_DIVISORS (1, 2, 3)
    channels: int = 128  # degree-0 channels; degree l has channels / divisor, >= 1
    num_blocks: int = 6  # transformer blocks, >= 1
    num_heads: int = 4  # attention heads, >= 1
    num_radial: int = 32  # Gaussian radial basis size, >= 1
    radial_hidden: int = 64  # radial MLP width, >= 1
    mlp_ratio: int = 3  # feed-forward width / channels, >= 1
    feature_ratio: int = 4  # last-block width / channels, >= 1
    num_elements: int = 64  # one-hot size (largest atomic number + 1), >= 1
    avg_degree: float = MD17_AVG_DEGREE  # message normaliser (neighbours per atom), > 0
    avg_num_atoms: float = MD17_AVG_NUM_ATOMS  # energy normaliser (atoms per structure), > 0
    alpha_drop: float = 0.0  # attention-weight dropout, in [0, 1)
    proj_drop: float = 0.0  # projection dropout, in [0, 1)
    out_drop: float = 0.0  # output dropout, in [0, 1)
    drop_path: float = 0.0  # stochastic depth, in [0, 1)
    weight_init: str = "normal"  # one of WEIGHT_INITS (bench.backbones.layers.init)

    def __post_init__(self) -> None:
        check_graph(self)
        check_fields(
            self,
            lmax=tuple(DEGREE_DIVISORS),
            weight_init=WEIGHT_INITS,
            **dict.fromkeys(
                ("channels", "num_blocks", "num_heads", "num_radial", "radial_hidden"), ">= 1"
            ),
            **dict.fromkeys(("mlp_ratio", "feature_ratio", "num_elements"), ">= 1"),
            **dict.fromkeys(("avg_degree", "avg_num_atoms"), "> 0"),
            **dict.fromkeys(("alpha_drop", "proj_drop", "out_drop", "drop_path"), "in [0, 1)"),
        )
        step = max(DEGREE_DIVISORS[self.lmax]) * self.num_heads
        if self.channels % step:
            raise ValueError(
                f"channels must be a multiple of {step} (largest degree divisor x num_heads) "
                f"at lmax {self.lmax}, got {self.channels!r}"
            )


@dataclass(frozen=True)
class EquiformerConfig(EquiformerCore):
    """:class:`EquiformerCore` plus the two switches SEGNN-like fixes to False."""

    attention: bool = True  # graph attention (False: summed messages)
    layer_norm: bool = True  # equivariant layer norm in every block


class Equiformer(Backbone):
    """Equiformer for energies and forces (MD17 configuration), optionally with DeNS heads.

    Atom + edge-degree embeddings (+ the DeNS force embedding), ``num_blocks`` pre-norm
    transformer blocks (layer norm -> graph attention -> residual; layer norm -> gated
    feed-forward -> residual; the last block widens to ``irreps.feature``), a final layer
    norm and an energy MLP summed over atoms and divided by ``sqrt(avg_num_atoms)``.
    Direct forces and the DeNS noise each come from one extra graph-attention block with a
    1x1e output; each runs only on the edges into the atoms its :class:`HeadRequest` names
    (zeros elsewhere).

    Args:
        cutoff: radius graph cutoff, Angstrom. max_neighbors: neighbour cap (None = all).
        force_mode: "gradient" (F = -dE/dx) or "direct" (force head).
        force_encoding: add the DeNS force embedding.
        noise_head: add the noise head (and widen the last block to vector features).
        lmax: maximum degree of node irreps (1, 2 or 3). channels: 0e channels of the
            node irreps (others follow ``DEGREE_DIVISORS``).
        num_blocks / num_heads: transformer blocks and attention heads.
        num_radial / radial_hidden: radial basis size and the two hidden widths of the
            radial MLPs.
        mlp_ratio / feature_ratio: feed-forward and last-block width multipliers.
        num_elements: one-hot size of the atom embedding (atomic numbers < num_elements).
        avg_degree / avg_num_atoms: normalisers of neighbour sums and of the energy sum.
        alpha_drop / proj_drop / out_drop / drop_path: attention-weight dropout, dropout on
            block outputs, dropout before the heads, and stochastic depth per structure.
        attention / layer_norm: keep MLP attention and layer norms (both off: SEGNN-like).
        weight_init: "normal" (the authors' released code) or "uniform" (paper v1 D.2 for
            the SEGNN-like variant), see bench.backbones.layers.init.

    The DeNS-only modules (force embedding, noise head) are built after every other one,
    so that with one seed a network with them draws the same initial weights as one
    without, except where a noise head widens the last block's output (its output and
    shortcut maps beyond the scalars) and what is drawn after that (the energy head):
    bench/train's paired arms then share their initial weights wherever they can.
    """

    name: ClassVar[str] = "equiformer"
    Config: ClassVar[type] = EquiformerConfig
    repeated_blocks: ClassVar[str | None] = "blocks"
    reflection_equivariant: ClassVar[bool] = False

    def __init__(
        self,
        cutoff: float = 5.0,
        max_neighbors: int | None = None,
        force_mode: str = "gradient",
        force_encoding: bool = False,
        noise_head: bool = False,
        lmax: int = 2,
        channels: int = 128,
        num_blocks: int = 6,
        num_heads: int = 4,
        num_radial: int = 32,
        radial_hidden: int = 64,
        mlp_ratio: int = 3,
        feature_ratio: int = 4,
        num_elements: int = 64,
        avg_degree: float = MD17_AVG_DEGREE,
        avg_num_atoms: float = MD17_AVG_NUM_ATOMS,
        alpha_drop: float = 0.0,
        proj_drop: float = 0.0,
        out_drop: float = 0.0,
        drop_path: float = 0.0,
        attention: bool = True,
        layer_norm: bool = True,
        weight_init: str = "normal",
    ) -> None:
        rng_state = torch.random.get_rng_state()
        super().__init__(
            cutoff, max_neighbors, force_mode, force_encoding=force_encoding, noise_head=noise_head
        )
        if num_blocks < 1 or avg_num_atoms <= 0:
            raise ValueError(
                f"need num_blocks >= 1 and avg_num_atoms > 0, got {num_blocks!r}, {avg_num_atoms!r}"
            )
        self.irreps = irreps = EquiformerIrreps.build(
            lmax, channels, num_heads, mlp_ratio, feature_ratio, noise_head
        )
        self.avg_num_atoms = float(avg_num_atoms)
        radial = [num_radial, radial_hidden, radial_hidden]
        attn = dict(
            irreps_sh=irreps.sh,
            irreps_pre=irreps.node,
            irreps_head=irreps.head,
            num_heads=num_heads,
            radial_sizes=radial,
            attention=attention,
            avg_degree=avg_degree,
            alpha_drop=alpha_drop,
        )
        self.rbf = ExpNormalBasis(num_radial, cutoff)
        self.atom_embed = AtomEmbedding(num_elements, irreps.node)
        self.edge_embed = SHDegreeEmbedding(irreps.node, irreps.sh, radial, avg_degree)
        self.blocks = nn.ModuleList(
            EquiformerBlock(
                irreps,
                irreps.feature if k == num_blocks - 1 else irreps.node,
                attn,
                layer_norm,
                proj_drop,
                drop_path,
            )
            for k in range(num_blocks)
        )
        self.norm = EquivariantLayerNorm(irreps.feature) if layer_norm else nn.Identity()
        self.out_drop = EquivariantDropout(irreps.feature, out_drop)
        self.energy_head = EnergyHead(irreps.feature)
        vector_head = dict(attn, irreps_in=irreps.feature, irreps_out=o3.Irreps("1x1e"))
        self.force_head = GraphAttention(**vector_head) if force_mode == "direct" else None
        self.noise_head = GraphAttention(**vector_head) if noise_head else None
        self.force_embed = ForceEmbedding(lmax, irreps.node) if force_encoding else None
        apply_weight_init(self, weight_init, rng_state)

    def no_weight_decay(self) -> set[str]:
        """The equivariant linear maps' biases (``*.biases.k``), undecayed as in the authors'
        optimiser (``'bias.' in name``); bench.train.optim already skips norms and ``*bias``."""
        return {n for n, _ in self.named_parameters() if ".biases." in n}

    def compute(self, inputs: AtomInputs, graph: Graph, heads: HeadRequest) -> AtomOutputs:
        """Normalised per-atom energy [N]; forces [N, 3] when direct; noise [N, 3] with a
        noise head."""
        pos = inputs.pos
        sh = o3.spherical_harmonics(self.irreps.sh, graph.edge_vec, True, "component")
        edges = SHEdges(graph.src, graph.dst, sh, self.rbf(graph.edge_len))
        n_atoms = pos.shape[0]
        x = self.atom_embed(inputs.z, pos.dtype) + self.edge_embed(edges, n_atoms)
        if self.force_embed is not None:
            forces = inputs.encoded_forces
            x = x + self.force_embed(pos.new_zeros(n_atoms, 3) if forces is None else forces)
        for block in self.blocks:
            x = block(x, edges, inputs.batch)
        x = self.out_drop(self.norm(x))
        per_atom = self.energy_head(x)[:, 0] / math.sqrt(self.avg_num_atoms)
        forces = noise = None
        if self.force_head is not None:
            forces = self.force_head(x, edges.incoming(heads.force_atoms))
        if self.noise_head is not None:
            noise = self.noise_head(x, edges.incoming(heads.noise_atoms))
        return AtomOutputs(per_atom, forces, noise)


class EquiformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + GA(LN(x))``, then ``S(x) + FFN(LN(x))``.

    ``S`` is the identity, or a linear map when ``irreps_out`` differs from the node irreps.

    Args:
        irreps: the network's irreps. irreps_out: block output irreps.
        attn: GraphAttention keyword arguments shared by all blocks.
        layer_norm: use equivariant layer norms (else identity).
        proj_drop: equivariant dropout on both branch outputs. drop_path: stochastic depth.
    """

    def __init__(
        self,
        irreps: EquiformerIrreps,
        irreps_out: o3.Irreps,
        attn: dict,
        layer_norm: bool,
        proj_drop: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        norm = EquivariantLayerNorm if layer_norm else (lambda _: nn.Identity())
        self.norm_attn = norm(irreps.node)
        self.attn = GraphAttention(irreps.node, irreps.node, proj_drop=proj_drop, **attn)
        self.norm_ffn = norm(irreps.node)
        self.ffn = FeedForward(irreps.node, irreps.mlp_mid, irreps_out, proj_drop)
        self.shortcut = None
        if irreps_out != irreps.node:
            self.shortcut = IrrepsLinear(irreps.node, irreps_out, bias=True)
        self.drop_path = GraphDropPath(drop_path)

    def forward(self, x: Tensor, edges: SHEdges, batch: Tensor) -> Tensor:
        """x [N, node.dim], batch [N] -> [N, irreps_out.dim]."""
        x = x + self.drop_path(self.attn(self.norm_attn(x), edges), batch)
        update = self.drop_path(self.ffn(self.norm_ffn(x)), batch)
        return (x if self.shortcut is None else self.shortcut(x)) + update


class FeedForward(nn.Module):
    """Linear -> gate -> linear, with equivariant dropout on the output."""

    def __init__(
        self, irreps_in: o3.Irreps, irreps_mid: o3.Irreps, irreps_out: o3.Irreps, drop: float
    ) -> None:
        super().__init__()
        self.gate = Gate(irreps_mid)
        self.lin_in = IrrepsLinear(irreps_in, self.gate.irreps_in, bias=True)
        self.lin_out = IrrepsLinear(irreps_mid, irreps_out, bias=True)
        self.drop = EquivariantDropout(irreps_out, drop)

    def forward(self, x: Tensor) -> Tensor:
        """[N, irreps_in.dim] -> [N, irreps_out.dim]."""
        return self.drop(self.lin_out(self.gate(self.lin_in(x))))


class EnergyHead(nn.Module):
    """Per-atom energy from the 0e part of the features: linear -> SiLU -> linear."""

    def __init__(self, irreps_feature: o3.Irreps) -> None:
        super().__init__()
        scalars = o3.Irreps([(m, ir) for m, ir in irreps_feature if ir == o3.Irrep("0e")])
        if scalars.dim == 0:
            raise ValueError(f"the energy head needs 0e features, got {irreps_feature}")
        self.lin_in = IrrepsLinear(irreps_feature, scalars, bias=True)
        self.act = Gate(scalars)
        self.lin_out = IrrepsLinear(scalars, "1x0e", bias=True)

    def forward(self, x: Tensor) -> Tensor:
        """[N, feature.dim] -> [N, 1] (normalised energy units)."""
        return self.lin_out(self.act(self.lin_in(x)))
