"""The interface every backbone implements.

A backbone maps a torch_geometric batch (fields in bench.data.keys) and a :class:`HeadRequest`
to a dict with ``energy`` [B] (eV, float64), ``forces`` [N, 3] (eV/Angstrom) and, when built
with ``noise_head=True``, ``noise`` [N, 3]. It builds its own neighbour graph from ``pos``, so
a rotated batch is a complete test input. It knows nothing about noise, losses or training
regimes: DeNS only adds two declared capabilities (:class:`Capabilities`), a force-encoding
input (``force_encoding``) and a noise head (``noise_head``).

The base class reads the batch once into :class:`AtomInputs`, builds the :class:`Graph`,
sums the per-atom energies of :meth:`Backbone.compute` into structures, de-normalises and
takes gradient forces; a subclass only maps (inputs, graph, heads) to :class:`AtomOutputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from bench.data import keys
from bench.data.graphs import build_graph
from bench.data.heads import ALL_ATOMS, HeadRequest
from bench.data.neighbor_rules import check_rule

FORCE_MODES = ("gradient", "direct")

__all__ = [
    "ALL_ATOMS",
    "AtomInputs",
    "AtomOutputs",
    "Backbone",
    "Capabilities",
    "Graph",
    "HeadRequest",
    "edge_vectors",
    "incoming_edges",
]


@dataclass
class Graph:
    """Neighbour graph of a batch: geometry only, ``edge_vec = pos[src] - pos[dst] + shift``
    (Angstrom). Each layer family derives its edge inputs from it once per forward
    (bench.backbones.layers.SHEdges, bench.backbones.so3.FrameEdges)."""

    edge_index: Tensor  # long [2, E]; row 0 source j, row 1 target i
    edge_vec: Tensor  # float [E, 3], Angstrom; differentiable w.r.t. pos
    edge_len: Tensor  # float [E], Angstrom

    @property
    def src(self) -> Tensor:
        return self.edge_index[0]

    @property
    def dst(self) -> Tensor:
        return self.edge_index[1]


@dataclass(frozen=True)
class AtomInputs:
    """What a backbone reads of a batch, read once by :meth:`Backbone.forward`.

    Attributes:
        z: long [N]; atomic numbers.
        pos: float [N, 3]; positions, Angstrom (requires grad under gradient forces).
        batch: long [N]; structure index of each atom.
        num_structures: B (an int; a traced size under bench.torchscript).
        cell: float [B, 3, 3] lattice rows (Angstrom) or None. pbc: bool [B, 3] or None.
        strain: float [B, 3, 3] displacement gradient (stress; bench.calculator) or None.
        encoded_forces: float [N, 3] raw forces to encode (bench.data.keys.ENCODED_FORCES:
            eV/Angstrom or kcal/mol/Angstrom), or None (nothing to encode; read only with the
            ``force_encoding`` capability).
        noise_sigma: float [N] noise std of each atom's structure, Angstrom, or None (read
            only with the ``sigma_encoding`` capability).
    """

    z: Tensor
    pos: Tensor
    batch: Tensor
    num_structures: int
    cell: Tensor | None = None
    pbc: Tensor | None = None
    strain: Tensor | None = None
    encoded_forces: Tensor | None = None
    noise_sigma: Tensor | None = None

    @classmethod
    def from_batch(cls, batch, pos: Tensor) -> AtomInputs:
        """The inputs of a torch_geometric ``batch`` (bench.data.keys) at positions ``pos``."""
        return cls(
            z=batch.z,
            pos=pos,
            batch=batch.batch,
            num_structures=batch.num_graphs,
            cell=getattr(batch, keys.CELL, None),
            pbc=getattr(batch, keys.PBC, None),
            strain=getattr(batch, keys.STRAIN, None),
            encoded_forces=getattr(batch, keys.ENCODED_FORCES, None),
            noise_sigma=getattr(batch, keys.NOISE_SIGMA, None),
        )


@dataclass(frozen=True)
class Capabilities:
    """The optional inputs and outputs a backbone was built with (checked against what a
    method requires when a run is built, bench.train.setup).

    Attributes:
        force_encoding: reads ``AtomInputs.encoded_forces``.
        noise_head: returns ``noise`` [N, 3].
        sigma_encoding: reads ``AtomInputs.noise_sigma``.
    """

    force_encoding: bool = False
    noise_head: bool = False
    sigma_encoding: bool = False


@dataclass(frozen=True)
class AtomOutputs:
    """NORMALISED per-atom predictions of :meth:`Backbone.compute`.

    Attributes:
        energy: [N] per-atom energy (summed per structure by the base class, then
            :meth:`Backbone.scale_energy`; units of energy_std).
        forces: [N, 3] direct forces in units of force_std, or None (gradient forces).
        noise: [N, 3] predicted noise (dimensionless), or None (no noise head).
    """

    energy: Tensor
    forces: Tensor | None = None
    noise: Tensor | None = None


def incoming_edges(dst: Tensor, nodes: Tensor | None) -> Tensor | None:
    """Indices (long [E']) of the edges whose centre ``dst`` [E] is in the bool mask ``nodes``
    [N]: a layer run on them is exact at those centres and zero elsewhere. None when every
    centre is wanted (``nodes`` None or all True: keep every edge, no copy)."""
    if nodes is None or bool(nodes.all()):
        return None
    return nodes[dst].nonzero()[:, 0]


def edge_vectors(pos: Tensor, edge_index: Tensor, shift: Tensor) -> Tensor:
    """``pos[src] - pos[dst] + shift`` [E, 3] (Angstrom), differentiable w.r.t. ``pos`` [N, 3];
    ``edge_index`` [2, E] as in :class:`Graph`, ``shift`` [E, 3] Angstrom."""
    return pos[edge_index[0]] - pos[edge_index[1]] + shift.to(pos.dtype)


class Backbone(nn.Module):
    """Base class: batch reading, graph building, per-structure sums, de-normalisation and
    gradient forces.

    Subclasses implement :meth:`compute` (NORMALISED :class:`AtomOutputs`; ``forces`` required
    when ``force_mode == "direct"``, ``noise`` when built with ``noise_head``) and may override
    :meth:`scale_energy`.

    Force encoding: with the ``force_encoding`` capability the subclass encodes
    ``inputs.encoded_forces``. None and an all-zero field must give identical outputs (a
    zero force contributes nothing before any bias; a bias, as in the authors' Equiformer,
    is added on every atom either way), and a zero force must not produce NaN.

    Args:
        cutoff: neighbour cutoff, Angstrom (> 0). max_neighbors: neighbour cap (None: all).
        force_mode: ``"gradient"`` (F = -dE/dpos) or ``"direct"`` (a force head).
        force_encoding: build the force-encoding input (DeNS).
        noise_head: build the noise head (DeNS, Noisy Nodes).
        encode_sigma: build the sigma encoding (only classes declaring ``sigma_encoding``).
        neighbor_rule: which edges within the cutoff the cap keeps (bench.data.neighbor_rules).
    """

    name: ClassVar[str] = "backbone"
    #: the frozen dataclass of the architecture keywords (``model.options``; the schema
    #: bench.backbones.registry.backbone_config resolves presets into)
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
        force_encoding: bool = False,
        noise_head: bool = False,
        encode_sigma: bool = False,
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
        self.capabilities = Capabilities(bool(force_encoding), bool(noise_head), bool(encode_sigma))
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
        :meth:`structure_energy`, the atomic numbers ``z`` [N] and structure index ``batch`` [N]."""
        ref = torch.zeros_like(energy, dtype=torch.float64)
        ref = ref.index_add(0, batch, self.atom_ref[z].double())
        return energy.double() * self.energy_std.double() + self.energy_mean.double() + ref

    def compute(self, inputs: AtomInputs, graph: Graph, heads: HeadRequest) -> AtomOutputs:
        """Normalised per-atom outputs from ``inputs`` on ``graph``; vector heads may restrict
        themselves to the atoms of ``heads``."""
        raise NotImplementedError

    def scale_energy(self, energy: Tensor) -> Tensor:
        """The normalised energy [B] from the per-structure sum [B] of the per-atom energies
        (identity; a subclass may rescale the sum, e.g. divide by an average atom count)."""
        return energy

    def structure_energy(self, inputs: AtomInputs, graph: Graph, heads: HeadRequest):
        """(normalised energy [B], :class:`AtomOutputs`): :meth:`compute`, its per-atom energies
        summed over the atoms of each structure and passed through :meth:`scale_energy`."""
        out = self.compute(inputs, graph, heads)
        total = out.energy.new_zeros(inputs.num_structures).index_add(0, inputs.batch, out.energy)
        return self.scale_energy(total), out

    def build_graph(self, inputs: AtomInputs) -> Graph:
        edge_index, shift = build_graph(
            inputs.pos.detach(),
            inputs.batch,
            self.cutoff,
            self.max_neighbors,
            inputs.cell,
            inputs.pbc,
            self.neighbor_rule,
        )
        edge_vec = edge_vectors(inputs.pos, edge_index, shift)
        if inputs.strain is not None:  # homogeneous deformation (I + strain) of every edge
            deform = inputs.strain[inputs.batch[edge_index[1]]]
            edge_vec = edge_vec + torch.einsum("ei,eij->ej", edge_vec, deform)
        return Graph(edge_index, edge_vec, edge_vec.norm(dim=-1))

    def forward(self, batch, heads: HeadRequest = ALL_ATOMS) -> dict[str, Tensor]:
        """``{"energy": [B] eV float64, "forces": [N, 3] eV/Angstrom, ["noise": [N, 3]]}`` of
        ``batch``; ``heads`` names the atoms the vector heads must get right (default all)."""
        gradient = self.force_mode == "gradient"
        outer_grad = torch.is_grad_enabled()
        pos = batch.pos
        with torch.set_grad_enabled(outer_grad or gradient):
            if gradient and not pos.requires_grad:
                pos = pos.detach().requires_grad_(True)
            inputs = AtomInputs.from_batch(batch, pos)
            energy, out = self.structure_energy(inputs, self.build_graph(inputs), heads)
            energy = self.denormalize_energy(energy, inputs.z, inputs.batch)
            result = {keys.OUT_ENERGY: energy}
            if gradient:
                (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=outer_grad)
                result[keys.OUT_FORCES] = -grad
            else:
                result[keys.OUT_FORCES] = out.forces * self.force_std
        if self.capabilities.noise_head:
            result[keys.OUT_NOISE] = out.noise
        if not outer_grad:
            result = {k: v.detach() for k, v in result.items()}
        return result
