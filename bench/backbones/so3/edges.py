"""Edge inputs computed once per forward pass and shared by every block."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from bench.backbones.base import incoming_edges
from bench.backbones.so3.rotation import EdgeRotation


@dataclass
class FrameEdges:
    """Edge inputs of the SO(2) layers (eSCN, EquiformerV2), derived once per forward from a
    bench.backbones.base.Graph: edge frames, distance basis and atom types (messages flow
    src j -> dst i)."""

    src: Tensor  # long [E]; neighbour j
    dst: Tensor  # long [E]; centre i, where messages are summed
    num_nodes: int  # N
    rotation: EdgeRotation  # node frame <-> edge frame, [E, ...]
    distance_basis: Tensor  # float [E, num_basis]; Gaussian expansion of |r_ij| (Angstrom)
    z_src: Tensor  # long [E]; atomic number of j
    z_dst: Tensor  # long [E]; atomic number of i

    def subset(self, index: Tensor) -> FrameEdges:
        """The context of the edges ``index`` (long [E']), same nodes; a layer run on it gives
        exactly the full layer's output at the centres all of whose edges are kept."""
        pick = lambda t: t.index_select(0, index)  # noqa: E731
        return FrameEdges(
            pick(self.src),
            pick(self.dst),
            self.num_nodes,
            self.rotation.subset(index),
            pick(self.distance_basis),
            pick(self.z_src),
            pick(self.z_dst),
        )

    def incoming(self, nodes: Tensor | None) -> FrameEdges:
        """The edges into the atoms of the bool mask ``nodes`` [N]
        (bench.backbones.base.incoming_edges; ``self`` when ``nodes`` is None or every atom,
        e.g. the force targets of a molecule
        without fixed atoms: no copy)."""
        index = incoming_edges(self.dst, nodes)
        return self if index is None else self.subset(index)

    def scatter(self, messages: Tensor) -> Tensor:
        """Sum edge messages [E, ...] into their centres: -> [N, ...]."""
        out = messages.new_zeros((self.num_nodes, *messages.shape[1:]))
        return out.index_add(0, self.dst, messages)
