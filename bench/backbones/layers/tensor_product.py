"""Depthwise tensor products of node features with edge spherical harmonics."""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import Tensor, nn

SCALAR = o3.Irrep("0e")


class DepthwiseTensorProduct(nn.Module):
    """Channel-wise ("uvu") tensor product ``x (x) Y``, one weight per channel and path.

    For every input block ``mul x l_in``, every harmonic ``l_sh`` and every
    ``l_out in l_in (x) l_sh`` that is 0e or in ``irreps_target``, channel u gets
    ``w_path[u] * sqrt(2 l_out + 1) * C(l_in, l_sh, l_out) . (x_u, Y)`` with C the Wigner 3j
    symbol: the maths of ``e3nn.o3.TensorProduct`` with "uvu" instructions. Outputs (one
    irreps entry per path, unsimplified) are sorted by degree, even parity first.

    Args:
        irreps_in: node-feature irreps of x ([E, irreps_in.dim]).
        irreps_sh: spherical-harmonics irreps of Y ([E, irreps_sh.dim]), multiplicity 1.
        irreps_target: the irreps the result will be mixed into by a following linear map.
        internal_weights: learned shared weights (~ N(0, 1)); otherwise per-edge weights
            [E, weight_numel] (path-major: path 0's channels, then path 1's ...) are passed.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_target: o3.Irreps,
        internal_weights: bool = False,
    ) -> None:
        super().__init__()
        self.irreps_in, self.irreps_sh = o3.Irreps(irreps_in), o3.Irreps(irreps_sh)
        if any(mul != 1 for mul, _ in self.irreps_sh):
            raise ValueError(f"irreps_sh must have multiplicity 1, got {irreps_sh}")
        targets = {ir for _, ir in o3.Irreps(irreps_target)} | {SCALAR}
        paths = [
            (i, j, ir_out)
            for i, (_, ir_in) in enumerate(self.irreps_in)
            for j, (_, ir_sh) in enumerate(self.irreps_sh)
            for ir_out in ir_in * ir_sh
            if ir_out in targets
        ]
        if not paths:
            raise ValueError(f"no path from {irreps_in} x {irreps_sh} into {irreps_target}")
        self.weight_numel = sum(self.irreps_in[i].mul for i, _, _ in paths)
        order = sorted(range(len(paths)), key=lambda k: (paths[k][2].l, -paths[k][2].p, k))
        self.irreps_out = o3.Irreps([(self.irreps_in[paths[k][0]].mul, paths[k][2]) for k in order])
        self._build_blocks(paths, order)
        self.weight = nn.Parameter(torch.randn(self.weight_numel)) if internal_weights else None

    def _build_blocks(self, paths: list[tuple[int, int, o3.Irrep]], order: list[int]) -> None:
        """Per input block, a coupling matrix [d_in * sh.dim, K] mapping (x_u, Y) to its K
        output columns, a 0/1 matrix [paths, K] spreading each path's weight over its
        columns, and one gather index placing every column in the sorted output.

        Couplings are kept in float64 (cast to the input dtype when used), so that float64
        models are equivariant to float64 precision.
        """
        sh_slices = self.irreps_sh.slices()
        self.in_dims = [mul * ir.dim for mul, ir in self.irreps_in]
        self.w_sizes: list[int] = []
        first_col: dict[int, tuple[int, int]] = {}  # path -> (flat offset of its block, column)
        offset = 0
        for i, (mul, ir_in) in enumerate(self.irreps_in):
            mine = [k for k, p in enumerate(paths) if p[0] == i]
            width = sum(paths[k][2].dim for k in mine)
            coupling = torch.zeros(ir_in.dim, self.irreps_sh.dim, width, dtype=torch.float64)
            spread = torch.zeros(len(mine), width, dtype=torch.float64)
            col = 0
            for n, k in enumerate(mine):
                _, j, ir_out = paths[k]
                c = o3.wigner_3j(ir_in.l, self.irreps_sh[j].ir.l, ir_out.l, dtype=torch.float64)
                c = c * math.sqrt(ir_out.dim)
                coupling[:, sh_slices[j], col : col + ir_out.dim] = c
                first_col[k] = (offset, col)
                spread[n, col : col + ir_out.dim] = 1.0
                col += ir_out.dim
            self.register_buffer(
                f"coupling_{i}", coupling.reshape(ir_in.dim * self.irreps_sh.dim, width)
            )
            self.register_buffer(f"spread_{i}", spread)
            self.w_sizes.append(len(mine) * mul)
            offset += mul * width
        gather = []
        for k in order:
            i, ir_out = paths[k][0], paths[k][2]
            block, col = first_col[k]
            width = getattr(self, f"spread_{i}").shape[1]
            gather += [
                block + u * width + col + c
                for u in range(self.irreps_in[i].mul)
                for c in range(ir_out.dim)
            ]
        self.register_buffer("gather", torch.tensor(gather, dtype=torch.long))

    def forward(self, x: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
        """x [E, irreps_in.dim], y [E, irreps_sh.dim], weight [E, weight_numel] -> [E, out.dim]."""
        if weight is None:
            if self.weight is None:
                raise ValueError("this tensor product takes per-edge weights")
            weight = self.weight.to(x.dtype).expand(x.shape[0], -1)
        n_edges = x.shape[0]
        blocks = []
        y = y.reshape(n_edges, 1, 1, self.irreps_sh.dim)  # explicit sizes: E may be 0
        for i, (x_i, w_i, (mul, ir)) in enumerate(
            zip(
                x.split(self.in_dims, -1),
                weight.split(self.w_sizes, -1),
                self.irreps_in,
                strict=True,
            )
        ):
            coupling = getattr(self, f"coupling_{i}").to(x.dtype)
            spread = getattr(self, f"spread_{i}").to(x.dtype)
            outer = x_i.reshape(n_edges, mul, ir.dim, 1) * y
            outer = outer.reshape(n_edges, mul, coupling.shape[0])
            w_i = w_i.reshape(n_edges, spread.shape[0], mul).transpose(1, 2)  # [E, mul, paths]
            out = (outer @ coupling) * (w_i @ spread)  # [E, mul, width]
            blocks.append(out.reshape(n_edges, mul * spread.shape[1]))
        return torch.cat(blocks, dim=-1).index_select(1, self.gather)
