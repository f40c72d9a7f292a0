"""SchNet (Schuett et al., 2017) on dens-bench neighbour graphs, with an optional DeNS extension.

The continuous-filter interaction blocks, Gaussian distance expansion and shifted softplus are
PyG's (``torch_geometric.nn.models.schnet``); only the neighbour graph is ours, because PyG's
``radius_graph`` needs ``torch-cluster``. At 128 hidden channels, 128 filters, 6 interactions
and 50 Gaussians the network has exactly the 455,809 parameters of PyG's ``SchNet``, initialised
as ``SchNet.reset_parameters`` does (Xavier-uniform weights and zero biases in the energy head).

SchNet is E(3)-invariant (reflections included): every feature is a function of distances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.nn.models.schnet import GaussianSmearing, InteractionBlock, ShiftedSoftplus

from bench.backbones.base import (
    AtomInputs,
    AtomOutputs,
    Backbone,
    Graph,
    HeadRequest,
    incoming_edges,
)
from bench.backbones.options import check_fields, check_graph


@dataclass(frozen=True)
class SchNetConfig:
    """The architecture of :class:`SchNet` (``model.options``; presets in presets/schnet.yaml).

    Every field is a keyword argument of SchNet; ranges are checked here.
    """

    hidden_channels: int = 128  # atom feature width, >= 1
    num_filters: int = 128  # continuous-filter width, >= 1
    num_interactions: int = 6  # interaction blocks, >= 1
    num_gaussians: int = 50  # Gaussians on [0, cutoff], >= 1
    cutoff: float = 5.0  # Angstrom, > 0
    max_neighbors: int | None = None  # nearest neighbours kept per atom, >= 1 (None: all)
    force_mode: str = "gradient"  # "gradient" (F = -dE/dpos) or "direct"
    max_z: int = 100  # atom-type embedding size, >= 1

    def __post_init__(self) -> None:
        check_graph(self)
        check_fields(
            self,
            hidden_channels=">= 1",
            num_filters=">= 1",
            num_interactions=">= 1",
            num_gaussians=">= 1",
            max_z=">= 1",
        )


class SchNet(Backbone):
    """SchNet energy model with gradient or direct forces and an optional DeNS extension.

    DeNS extension (OUR design; the DeNS paper never trains SchNet, it only suggests encoding
    forces into edge features, the inverse of GemNet-OC's force decoding). An invariant network
    cannot add a force vector to node features, so for an edge j -> i with unit vector
    ``u_ij = r_ij / |r_ij|`` (``r_ij = pos[j] - pos[i]``) the two invariants
    ``f_i . u_ij`` and ``f_j . u_ji`` of the raw encoded forces (bench.data.keys.ENCODED_FORCES)
    pass through a bias-free MLP (SiLU, so zero maps to exactly zero) and are added to the
    Gaussian edge features that feed every filter network. Zero encoded forces therefore give
    exactly the outputs of an absent ``encoded_forces``. The noise head predicts
    ``sum_j w_ij r_ij`` with learned invariant edge weights ``w_ij`` (an equivariant vector
    built from invariant features). Direct forces (OC20/OC22 presets) use the same head on
    unit vectors: ``F_i = sum_j w_ij r_ij / |r_ij|``. Each head runs only on the edges into
    its target atoms (``force_atoms``, ``noise_atoms`` in bench.data.keys) when the batch has
    that field, and the encoding only on edges touching an atom with a nonzero encoded force.

    Args:
        hidden_channels: atom feature width.
        num_filters: width of the continuous filters.
        num_interactions: number of interaction blocks.
        num_gaussians: Gaussians expanding distances on [0, cutoff].
        cutoff: neighbour cutoff in Angstrom (cosine envelope on the filters).
        max_neighbors: keep at most this many nearest neighbours per atom (None: all).
        force_mode: ``"gradient"`` (F = -dE/dpos) or ``"direct"`` (edge-vector force head).
        force_encoding: add the edge force encoding. noise_head: add the noise head.
        max_z: size of the atom-type embedding (PyG uses 100).
    """

    name = "schnet"
    Config: ClassVar[type] = SchNetConfig
    repeated_blocks = "interactions"
    reflection_equivariant = True

    def __init__(
        self,
        hidden_channels: int = 128,
        num_filters: int = 128,
        num_interactions: int = 6,
        num_gaussians: int = 50,
        cutoff: float = 5.0,
        max_neighbors: int | None = None,
        force_mode: str = "gradient",
        force_encoding: bool = False,
        noise_head: bool = False,
        max_z: int = 100,
    ) -> None:
        super().__init__(
            cutoff, max_neighbors, force_mode, force_encoding=force_encoding, noise_head=noise_head
        )
        sizes = {
            "hidden_channels": (hidden_channels, 2),
            "num_filters": (num_filters, 1),
            "num_interactions": (num_interactions, 1),
            "num_gaussians": (num_gaussians, 2),
            "max_z": (max_z, 2),
        }
        for arg, (value, low) in sizes.items():
            if value < low:
                raise ValueError(f"{arg} must be >= {low}, got {value!r}")
        self.embedding = nn.Embedding(max_z, hidden_channels, padding_idx=0)
        self.distance_expansion = GaussianSmearing(0.0, cutoff, num_gaussians)
        self.interactions = nn.ModuleList(
            InteractionBlock(hidden_channels, num_gaussians, num_filters, cutoff)
            for _ in range(num_interactions)
        )
        self.energy_head = nn.Sequential(
            nn.Linear(hidden_channels, hidden_channels // 2),
            ShiftedSoftplus(),
            nn.Linear(hidden_channels // 2, 1),
        )
        for layer in (self.energy_head[0], self.energy_head[2]):  # PyG SchNet.reset_parameters
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        args = (hidden_channels, num_filters, num_gaussians, cutoff)
        self.force_head = EdgeVectorHead(*args, unit=True) if force_mode == "direct" else None
        self.force_encoder = (
            EdgeForceEncoder(num_filters, num_gaussians) if force_encoding else None
        )
        self.noise_head = EdgeVectorHead(*args, unit=False) if noise_head else None

    def compute(self, inputs: AtomInputs, graph: Graph, heads: HeadRequest) -> AtomOutputs:
        """Normalised per-atom energy [N], direct forces [N, 3] and noise [N, 3] when
        configured (the edge heads run only on the edges into the atoms ``heads`` requests:
        exact there, zero elsewhere)."""
        edge_attr = self.distance_expansion(graph.edge_len)
        encoded = inputs.encoded_forces
        if self.force_encoder is not None and encoded is not None:
            edge_attr = edge_attr + self.force_encoder(encoded.to(inputs.pos.dtype), graph)
        h = self.embedding(inputs.z)
        for block in self.interactions:
            h = h + block(h, graph.edge_index, graph.edge_len, edge_attr)
        atom_energy = self.energy_head(h).squeeze(-1)
        forces = None
        if self.force_head is not None:
            forces = self.force_head(h, edge_attr, graph, heads.force_atoms)
        noise = None
        if self.noise_head is not None:
            noise = self.noise_head(h, edge_attr, graph, heads.noise_atoms)
        return AtomOutputs(atom_energy, forces, noise)


class EdgeForceEncoder(nn.Module):
    """Invariant edge encoding of per-atom force vectors (our DeNS extension for SchNet).

    For edge j -> i: ``[f_i . u_ij, f_j . u_ji]`` (eV/Angstrom) -> bias-free MLP -> [E, G],
    added to the Gaussian edge features. Zero forces give an exactly zero encoding.
    """

    def __init__(self, num_filters: int, num_gaussians: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(2, num_filters, bias=False),
            nn.SiLU(),
            nn.Linear(num_filters, num_gaussians, bias=False),
        )

    def forward(self, forces: Tensor, graph: Graph) -> Tensor:
        """forces: [N, 3] eV/Angstrom -> edge features [E, num_gaussians].

        The MLP runs only on the edges with a nonzero force at either end (DeNS encodes the
        corrupted atoms only): on the others its input is zero, so its output is exactly
        zero, which is what those rows hold.
        """
        active = forces.ne(0).any(-1)
        index = (active[graph.dst] | active[graph.src]).nonzero()[:, 0]
        src, dst = graph.src.index_select(0, index), graph.dst.index_select(0, index)
        unit = graph.edge_vec.index_select(0, index) / graph.edge_len[index].unsqueeze(-1)
        along_centre = (forces[dst] * unit).sum(-1)  # f_i . u_ij
        along_neighbour = -(forces[src] * unit).sum(-1)  # f_j . u_ji
        encoded = self.mlp(torch.stack([along_centre, along_neighbour], dim=-1))
        out = encoded.new_zeros(graph.edge_len.shape[0], encoded.shape[1])
        return out.index_copy(0, index, encoded)


class EdgeVectorHead(nn.Module):
    """Equivariant per-atom vectors from invariant features: ``v_i = sum_j w_ij r_ij`` [N, 3].

    ``w_ij`` is computed from the two atoms' features and the edge features, times the cosine
    envelope of ``|r_ij|`` (smooth at the cutoff); with ``unit=True`` the sum runs over unit
    vectors ``r_ij / |r_ij|`` instead.
    """

    def __init__(
        self,
        hidden_channels: int,
        num_filters: int,
        num_gaussians: int,
        cutoff: float,
        unit: bool,
    ) -> None:
        super().__init__()
        self.cutoff = float(cutoff)
        self.unit = unit
        self.filter = nn.Sequential(
            nn.Linear(num_gaussians, num_filters),
            ShiftedSoftplus(),
            nn.Linear(num_filters, num_filters),
        )
        self.lin_centre = nn.Linear(hidden_channels, num_filters)
        self.lin_neighbour = nn.Linear(hidden_channels, num_filters, bias=False)
        self.weight = nn.Sequential(ShiftedSoftplus(), nn.Linear(num_filters, 1))

    def forward(
        self, h: Tensor, edge_attr: Tensor, graph: Graph, targets: Tensor | None = None
    ) -> Tensor:
        """h: [N, hidden], edge_attr: [E, num_gaussians] -> [N, 3].

        ``targets``: bool [N] or None (every atom). The head runs only on the edges into the
        target atoms: exact there, zeros elsewhere.
        """
        src, dst, vec, length = graph.src, graph.dst, graph.edge_vec, graph.edge_len
        index = incoming_edges(dst, targets)
        if index is not None:
            src, dst, vec, length = (t.index_select(0, index) for t in (src, dst, vec, length))
            edge_attr = edge_attr.index_select(0, index)
        pair = self.lin_centre(h).index_select(0, dst) + self.lin_neighbour(h).index_select(0, src)
        envelope = 0.5 * (torch.cos(length * math.pi / self.cutoff) + 1.0)
        w = self.weight(pair * self.filter(edge_attr)) * envelope.unsqueeze(-1)
        vec = vec / length.unsqueeze(-1) if self.unit else vec
        return h.new_zeros(h.shape[0], 3).index_add(0, dst, w * vec)
