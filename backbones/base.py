"""The interface every backbone implements.

A backbone maps a torch_geometric batch (fields in bench.data.keys) to a dict with
``energy`` [B] (eV, float64), ``forces`` [N, 3] (eV/Angstrom) and, when built with ``dens=True``,
``noise`` [N, 3]. It builds its own neighbour graph from ``pos``, so a rotated batch is a
complete test input. It knows nothing about noise, losses or training regimes: DeNS only
adds a force-encoding input and a noise head, declared by ``dens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from bench.data import keys
from bench.data.graphs import build_graph
from bench.data.neighbor_rules import check_rule

FORCE_MODES = ("gradient", "direct")


@dataclass
class Graph:
    """Neighbour graph of a batch. ``edge_vec = pos[src] - pos[dst] + shift`` (Angstrom)."""

    edge_index: Tensor  # long [2, E]; row 0 source j, row 1 target i
    edge_vec: Tensor  # float [E, 3], Angstrom; differentiable w.r.t. pos
    edge_len: Tensor  # float [E], Angstrom

    @property
    def src(self) -> Tensor:
        return self.edge_index[0]

    @property
    def dst(self) -> Tensor:
        return self.edge_index[1]


def edge_vectors(pos: Tensor, edge_index: Tensor, shift: Tensor) -> Tensor:
    """``pos[src] - pos[dst] + shift`` [E, 3] (Angstrom), differentiable w.r.t. ``pos`` [N, 3];
    ``edge_index`` [2, E] as in :class:`Graph`, ``shift`` [E, 3] Angstrom."""
    return pos[edge_index[0]] - pos[edge_index[1]] + shift.to(pos.dtype)


class Backbone(nn.Module):
    """Base class: graph building, de-normalisation and gradient forces.

    Subclasses implement :meth:`compute` and return NORMALISED predictions:
    ``energy`` [B] (in units of energy_std, before adding the mean), ``forces`` [N, 3]
    (in units of force_std; required when ``force_mode == "direct"``) and, when
    ``self.dens``, ``noise`` [N, 3].

    Force encoding: when ``self.dens`` and the batch has ``encoded_forces``, the subclass
    encodes them. An absent field and an all-zero field must give identical outputs (a
    zero force contributes nothing before any bias; a bias, as in the authors' Equiformer,
    is added on every atom either way), and a zero force must not produce NaN.
    """

    name: ClassVar[str] = "backbone"
    #: the frozen dataclass of the architecture keywords (``model.options``; the schema
    #: backbones.registry.backbone_config resolves presets into)
    Config: ClassVar[type]
    #: True when the network is E(3)- (not only SE(3)-) equivariant, for reflection tests.
    reflection_equivariant: ClassVar[bool] = True
    #: attribute naming the nn.ModuleList of message-passing blocks (what ``train.compile``
    #: compiles; bench.train.compiled), or None.
    repeated_blocks: ClassVar[str | None] = None
    #: True when the class accepts ``encode_sigma=True`` and then reads ``noise_sigma`` (the
    #: DeNS sigma-encoding ablation); checked when a run is built (bench.train.setup).
    sigma_encoding: ClassVar[bool] = False

    def __init__(
        self,
        cutoff: float,
        max_neighbors: int | None,
        force_mode: str,
        dens: bool,
        neighbor_rule: str = "nearest",
    ) -> None:
        super().__init__()
        if force_mode not in FORCE_MODES:
            raise ValueError(f"force_mode must be one of {FORCE_MODES}, got {force_mode!r}")
        if cutoff <= 0:
            raise ValueError(f"cutoff must be positive, got {cutoff!r}")
        self.cutoff = float(cutoff)
        self.max_neighbors = max_neighbors
        #: which edges within the cutoff the cap keeps (bench.data.neighbor_rules)
        self.neighbor_rule = check_rule(neighbor_rule)
        self.force_mode = force_mode
        self.dens = bool(dens)
        # float64: a total energy like aspirin's -17,600 eV has a float32 ulp of ~2 meV.
        self.register_buffer("energy_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("energy_std", torch.ones((), dtype=torch.float64))
        self.register_buffer("force_std", torch.ones(()))
        self.register_buffer("atom_ref", torch.zeros(119, dtype=torch.float64))

    def set_normalization(
        self,
        energy_mean: float,
        energy_std: float,
        force_std: float,
        atom_ref: Tensor | None = None,
    ) -> None:
        """Set target normalisation: E = energy_std * e_hat + energy_mean + sum_i atom_ref[z_i]."""
        if energy_std <= 0 or force_std <= 0:
            raise ValueError(f"stds must be positive, got {energy_std!r}, {force_std!r}")
        self.energy_mean.fill_(energy_mean)
        self.energy_std.fill_(energy_std)
        self.force_std.fill_(force_std)
        self.atom_ref.zero_()
        if atom_ref is not None:
            self.atom_ref.copy_(atom_ref)

    def denormalize_energy(self, energy: Tensor, z: Tensor, batch: Tensor) -> Tensor:
        """Energy [B] in eV, float64 (see energy_mean), from the normalised ``energy`` [B] of
        :meth:`compute`, the atomic numbers ``z`` [N] and structure index ``batch`` [N]."""
        ref = torch.zeros_like(energy, dtype=torch.float64)
        ref = ref.index_add(0, batch, self.atom_ref[z].double())
        return energy.double() * self.energy_std.double() + self.energy_mean.double() + ref

    def compute(self, batch, pos: Tensor, graph: Graph) -> dict[str, Tensor]:
        raise NotImplementedError

    def build_graph(self, batch, pos: Tensor) -> Graph:
        edge_index, shift = build_graph(
            pos.detach(),
            batch.batch,
            self.cutoff,
            self.max_neighbors,
            getattr(batch, keys.CELL, None),
            getattr(batch, keys.PBC, None),
            self.neighbor_rule,
        )
        edge_vec = edge_vectors(pos, edge_index, shift)
        strain = getattr(batch, keys.STRAIN, None)
        if strain is not None:  # homogeneous deformation (I + strain) of every edge: stress
            deform = strain[batch.batch[edge_index[1]]]
            edge_vec = edge_vec + torch.einsum("ei,eij->ej", edge_vec, deform)
        return Graph(edge_index, edge_vec, edge_vec.norm(dim=-1))

    def forward(self, batch) -> dict[str, Tensor]:
        gradient = self.force_mode == "gradient"
        outer_grad = torch.is_grad_enabled()
        pos = batch.pos
        with torch.set_grad_enabled(outer_grad or gradient):
            if gradient and not pos.requires_grad:
                pos = pos.detach().requires_grad_(True)
            out = self.compute(batch, pos, self.build_graph(batch, pos))
            energy = self.denormalize_energy(out[keys.OUT_ENERGY], batch.z, batch.batch)
            result = {keys.OUT_ENERGY: energy}
            if gradient:
                (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=outer_grad)
                result[keys.OUT_FORCES] = -grad
            else:
                result[keys.OUT_FORCES] = out[keys.OUT_FORCES] * self.force_std
        if self.dens:
            result[keys.OUT_NOISE] = out[keys.OUT_NOISE]
        if not outer_grad:
            result = {k: v.detach() for k, v in result.items()}
        return result
