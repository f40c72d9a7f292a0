"""Gate activation: SiLU on scalars, sigmoid gates scaling the higher-degree irreps."""

from __future__ import annotations

from functools import cache

import torch
from e3nn import o3
from e3nn.math import moment
from torch import Tensor, nn

from bench.backbones.layers.concat import concat

SCALAR = o3.Irrep("0e")


@cache
def _second_moment_scale(name: str) -> float:
    """1 / sqrt(E[f(z)^2]) for z ~ N(0, 1), so the activation keeps unit second moment."""
    fn = {"silu": torch.nn.functional.silu, "sigmoid": torch.sigmoid}[name]
    return float(moment(fn, 2, dtype=torch.float64).pow(-0.5))


def split_gate_irreps(irreps_out: o3.Irreps) -> tuple[o3.Irreps, o3.Irreps, o3.Irreps]:
    """``(scalars, gates, gated)`` for a gate whose output is ``irreps_out``.

    ``scalars`` are the 0e channels, ``gated`` the others, ``gates`` one 0e per gated irrep.
    """
    irreps_out = o3.Irreps(irreps_out)
    scalars = o3.Irreps([(m, ir) for m, ir in irreps_out if ir == SCALAR]).simplify()
    gated = o3.Irreps([(m, ir) for m, ir in irreps_out if ir != SCALAR]).simplify()
    gates = o3.Irreps([(gated.num_irreps, SCALAR)] if gated.num_irreps else [])
    return scalars, gates, gated


class Gate(nn.Module):
    """Equivariant gate producing ``irreps_out`` from ``irreps_in = scalars + gates + gated``.

    ``out = [silu(scalars), gated * sigmoid(gates)]``, each activation rescaled to unit second
    moment. With no higher-degree output it is a scaled SiLU.

    Args:
        irreps_out: output irreps; all 0e channels must come first.
    """

    def __init__(self, irreps_out: o3.Irreps | str) -> None:
        super().__init__()
        scalars, gates, gated = split_gate_irreps(o3.Irreps(irreps_out))
        self.irreps_out = scalars + gated
        if self.irreps_out != o3.Irreps(irreps_out).simplify():
            raise ValueError(f"irreps_out must list its 0e channels first, got {irreps_out!r}")
        self.irreps_in = (scalars + gates + gated).simplify()
        self.n_scalars, self.n_gates = scalars.dim, gates.dim
        copies = [ir for mul, ir in gated for _ in range(mul)]
        index = [g for g, ir in enumerate(copies) for _ in range(ir.dim)]
        self.register_buffer("gate_index", torch.tensor(index, dtype=torch.long))
        self.silu_scale = _second_moment_scale("silu")
        self.sigmoid_scale = _second_moment_scale("sigmoid")

    def forward(self, x: Tensor) -> Tensor:
        """[..., irreps_in.dim] -> [..., irreps_out.dim]."""
        if self.n_gates == 0:
            return torch.nn.functional.silu(x) * self.silu_scale
        sizes = [self.n_scalars, self.n_gates, x.shape[-1] - self.n_scalars - self.n_gates]
        scalars, gates, gated = x.split(sizes, dim=-1)
        gates = torch.sigmoid(gates) * self.sigmoid_scale
        return concat(
            [
                torch.nn.functional.silu(scalars) * self.silu_scale,
                gated * gates[..., self.gate_index],
            ],
            dim=-1,
        )
