"""Equivariant graph attention (Equiformer): MLP attention over non-linear messages."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from e3nn import o3
from e3nn.math import moment
from torch import Tensor, nn
from torch_geometric.utils import softmax

from bench.backbones.base import incoming_edges
from bench.backbones.layers.concat import concat
from bench.backbones.layers.constants import drop_stale
from bench.backbones.layers.drop import EquivariantDropout
from bench.backbones.layers.gate import Gate
from bench.backbones.layers.linear import IrrepsLinear
from bench.backbones.layers.radial import RadialProfile
from bench.backbones.layers.tensor_product import DepthwiseTensorProduct


@dataclass
class SHEdges:
    """Edge inputs of the e3nn layers (Equiformer, SEGNN-like), derived once per forward from
    a bench.backbones.base.Graph: spherical harmonics and radial basis (messages flow
    src -> dst)."""

    src: Tensor  # long [E]; neighbour j
    dst: Tensor  # long [E]; centre i, where messages are summed
    sh: Tensor  # float [E, irreps_sh.dim]; spherical harmonics of pos[src] - pos[dst]
    radial: Tensor  # float [E, num_radial]; radial basis of |pos[src] - pos[dst]|

    def incoming(self, nodes: Tensor | None) -> SHEdges:
        """The edges into the atoms of the bool mask ``nodes`` [N]
        (bench.backbones.base.incoming_edges; ``self`` when ``nodes`` is None or every atom,
        no copy)."""
        index = incoming_edges(self.dst, nodes)
        if index is None:
            return self
        pick = lambda t: t.index_select(0, index)  # noqa: E731
        return SHEdges(pick(self.src), pick(self.dst), pick(self.sh), pick(self.radial))


def smooth_leaky_relu(x: Tensor, slope: float = 0.2) -> Tensor:
    """``(1 + a)/2 x + (1 - a)/2 x (2 sigmoid(x) - 1)``: a smooth leaky ReLU of slope ``a``."""
    return 0.5 * (1 + slope) * x + 0.5 * (1 - slope) * x * (2 * torch.sigmoid(x) - 1)


#: 1 / sqrt(E[smooth_leaky_relu(z)^2]), z ~ N(0, 1) (about 1.5313): the authors wrap the
#: attention activation in e3nn's ``normalize2mom`` (same estimate of the moment)
ALPHA_ACT_SCALE = float(moment(smooth_leaky_relu, 2, dtype=torch.float64).pow(-0.5))
#: the head map that state dicts stored until it became a per-block broadcast
_STALE = re.compile(r"head_index")


class GraphAttention(nn.Module):
    """Equivariant graph attention with non-linear messages.

    Message on edge j -> i: ``m = Lin_src(x_j) + Lin_dst(x_i)``, a depthwise tensor product
    with ``Y(r_ij)`` weighted by a radial MLP, then (a) the attention logits: a linear map to
    scalars, a smooth leaky ReLU rescaled to unit second moment (``ALPHA_ACT_SCALE``, a
    forward factor as in the reference) and a dot product per head, softmax over the
    neighbours of i;
    (b) the value: linear, gate, a second depthwise tensor product with ``Y(r_ij)``, linear.
    Values are weighted per head, summed at i and projected to ``irreps_out``. With
    ``attention=False`` the attention branch is removed and values are summed and divided by
    ``sqrt(avg_degree)`` (the SEGNN-like variant).

    Args:
        irreps_in / irreps_out: node feature irreps before and after.
        irreps_sh: edge spherical-harmonics irreps.
        irreps_pre: irreps of the merged message.
        irreps_head: irreps of one head's value; ``num_heads`` heads.
        radial_sizes: ``[num_radial, hidden...]`` of the radial MLP.
        attention: keep the attention branch.
        avg_degree: neighbours per atom used to normalise the sum when ``attention=False``.
        alpha_drop: dropout on attention weights; proj_drop: equivariant dropout on the output.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_out: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_pre: o3.Irreps,
        irreps_head: o3.Irreps,
        num_heads: int,
        radial_sizes: list[int],
        attention: bool = True,
        avg_degree: float = 1.0,
        alpha_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if num_heads < 1 or avg_degree <= 0:
            raise ValueError(
                f"need num_heads >= 1 and avg_degree > 0, got {num_heads!r}, {avg_degree!r}"
            )
        irreps_head = o3.Irreps(irreps_head)
        heads = o3.Irreps([(mul * num_heads, ir) for mul, ir in irreps_head]).sort().irreps
        heads = heads.simplify()
        self.merge_src = IrrepsLinear(irreps_in, irreps_pre, bias=True)
        self.merge_dst = IrrepsLinear(irreps_in, irreps_pre)
        self.tp_message = DepthwiseTensorProduct(irreps_pre, irreps_sh, irreps_pre)
        message = self.tp_message.irreps_out.simplify()
        self.radial = RadialProfile([*radial_sizes, self.tp_message.weight_numel])
        self.gate = Gate(irreps_pre)
        self.lin_message = IrrepsLinear(message, self.gate.irreps_in, bias=True)
        self.tp_value = DepthwiseTensorProduct(irreps_pre, irreps_sh, heads, True)
        self.lin_value = IrrepsLinear(self.tp_value.irreps_out.simplify(), heads, bias=True)
        self.proj = IrrepsLinear(heads, irreps_out, bias=True)
        self.proj_drop = EquivariantDropout(irreps_out, proj_drop)
        self.attention = attention
        self.num_heads = num_heads
        self.avg_degree = float(avg_degree)
        #: per heads block: its split width and (channels per head, irrep dim)
        self.head_widths = [mul * ir.dim for mul, ir in heads]
        self.head_blocks = [(mul // num_heads, ir.dim) for mul, ir in heads]
        if attention:
            n_alpha = sum(mul for mul, ir in heads if ir == o3.Irrep("0e"))
            if n_alpha == 0:
                raise ValueError(f"attention needs 0e channels in irreps_head, got {irreps_head}")
            self.lin_alpha = IrrepsLinear(message, f"{n_alpha}x0e", bias=True)
            self.alpha_dot = nn.Parameter(torch.empty(num_heads, n_alpha // num_heads))
            bound = math.sqrt(6.0 / (num_heads + n_alpha // num_heads))
            nn.init.uniform_(self.alpha_dot, -bound, bound)
            self.alpha_drop = nn.Dropout(alpha_drop)

    def forward(self, x: Tensor, edges: SHEdges) -> Tensor:
        """x [N, irreps_in.dim] -> [N, irreps_out.dim]."""
        message = self.merge_src(x).index_select(0, edges.src) + self.merge_dst(x).index_select(
            0, edges.dst
        )
        message = self.tp_message(message, edges.sh, self.radial(edges.radial))
        value = self.gate(self.lin_message(message))
        value = self.lin_value(self.tp_value(value, edges.sh))
        if self.attention:
            alpha = self.lin_alpha(message).unflatten(1, (self.num_heads, -1))
            logits = (smooth_leaky_relu(alpha) * ALPHA_ACT_SCALE * self.alpha_dot).sum(-1)
            weight = self.alpha_drop(softmax(logits, edges.dst, num_nodes=x.shape[0]))
            value = self._weigh(value, weight)
        out = x.new_zeros(x.shape[0], value.shape[1]).index_add(0, edges.dst, value)
        if not self.attention:
            out = out / math.sqrt(self.avg_degree)
        return self.proj_drop(self.proj(out))

    def _weigh(self, value: Tensor, weight: Tensor) -> Tensor:
        """Every channel of ``value`` [E, heads.dim] times its head's ``weight`` [E, H]
        (channels split evenly per irrep, head-major), broadcast per block."""
        n_edges, heads = weight.shape
        scale = weight.reshape(n_edges, heads, 1, 1)
        parts = value.split(self.head_widths, dim=-1)
        return concat(
            [
                (part.reshape(n_edges, heads, per_head, dim) * scale).reshape(n_edges, width)
                for part, width, (per_head, dim) in zip(
                    parts, self.head_widths, self.head_blocks, strict=True
                )
            ],
            dim=-1,
        )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """State dicts written before the head map stopped being stored carry it."""
        drop_stale(state_dict, prefix, _STALE)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
