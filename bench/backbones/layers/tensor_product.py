"""Depthwise tensor products of node features with edge spherical harmonics."""

from __future__ import annotations

import math
import re

import torch
from e3nn import o3
from torch import Tensor, nn

SCALAR = o3.Irrep("0e")
#: constant buffers that state dicts written before they became non-persistent carry
_LEGACY_BUFFER = re.compile(r"gather|(coupling|spread)_\d+")


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
        """Per input block, a coupling matrix [sh.dim, d_in * K] mapping Y to the block's
        [d_in, K] per-edge operator on x_u (K: the block's output columns), the path of each
        column ([K], spreading each path's weight over its columns), and one gather index
        placing every column in the sorted output.

        Couplings are kept in float64 (cast to the input dtype when used), so that float64
        models are equivariant to float64 precision. They are constants of the irreps, not
        state: older state dicts that stored them load (their copies are ignored).
        """
        sh_slices = self.irreps_sh.slices()
        self.in_dims = [mul * ir.dim for mul, ir in self.irreps_in]
        self.w_sizes: list[int] = []
        self.n_paths: list[int] = []
        first_col: dict[int, tuple[int, int]] = {}  # path -> (flat offset of its block, column)
        widths: list[int] = []
        offset = 0
        for i, (mul, ir_in) in enumerate(self.irreps_in):
            mine = [k for k, p in enumerate(paths) if p[0] == i]
            width = sum(paths[k][2].dim for k in mine)
            coupling = torch.zeros(self.irreps_sh.dim, ir_in.dim, width, dtype=torch.float64)
            column_path = torch.zeros(width, dtype=torch.long)
            col = 0
            for n, k in enumerate(mine):
                _, j, ir_out = paths[k]
                c = o3.wigner_3j(ir_in.l, self.irreps_sh[j].ir.l, ir_out.l, dtype=torch.float64)
                c = c * math.sqrt(ir_out.dim)  # [d_in, d_sh, d_out]
                coupling[sh_slices[j], :, col : col + ir_out.dim] = c.transpose(0, 1)
                first_col[k] = (offset, col)
                column_path[col : col + ir_out.dim] = n
                col += ir_out.dim
            self.register_buffer(
                f"coupling_{i}",
                coupling.reshape(self.irreps_sh.dim, ir_in.dim * width),
                persistent=False,
            )
            self.register_buffer(f"column_path_{i}", column_path, persistent=False)
            self.w_sizes.append(len(mine) * mul)
            self.n_paths.append(len(mine))
            widths.append(width)
            offset += mul * width
        self.widths = widths  # output columns K per block
        gather = []
        for k in order:
            i, ir_out = paths[k][0], paths[k][2]
            block, col = first_col[k]
            gather += [
                block + u * widths[i] + col + c
                for u in range(self.irreps_in[i].mul)
                for c in range(ir_out.dim)
            ]
        self.register_buffer("gather", torch.tensor(gather, dtype=torch.long), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Drop the constant buffers that state dicts written before they became
        non-persistent still carry (``coupling_i``, ``spread_i``, ``gather``)."""
        for key in [k for k in state_dict if k.startswith(prefix)]:
            if _LEGACY_BUFFER.fullmatch(key[len(prefix) :]):
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
        """x [E, irreps_in.dim], y [E, irreps_sh.dim], weight [E, weight_numel] -> [E, out.dim].

        Per block of ``mul x l_in``: the per-edge operator ``M_e = Y_e . C`` [d_in, K] is
        formed first, then every channel is mapped by it (``x_u @ M_e``) and scaled by its
        path weight: d_sh times fewer multiply-adds on the channels than coupling the outer
        product ``x_u (x) Y_e``.
        """
        if weight is None:
            if self.weight is None:
                raise ValueError("this tensor product takes per-edge weights")
            weight = self.weight.to(x.dtype).expand(x.shape[0], -1)
        n_edges = x.shape[0]
        blocks = []
        for i, (x_i, w_i, (mul, ir)) in enumerate(
            zip(
                x.split(self.in_dims, -1),
                weight.split(self.w_sizes, -1),
                self.irreps_in,
                strict=True,
            )
        ):
            width = self.widths[i]
            operator = (y @ getattr(self, f"coupling_{i}").to(x.dtype)).reshape(
                n_edges, ir.dim, width
            )
            if ir.dim == 1:
                out = x_i.reshape(n_edges, mul, 1) * operator  # [E, mul, width]
            else:
                out = torch.bmm(x_i.reshape(n_edges, mul, ir.dim), operator)
            w_i = w_i.reshape(n_edges, self.n_paths[i], mul).transpose(1, 2)  # [E, mul, paths]
            out = out * w_i.index_select(2, getattr(self, f"column_path_{i}"))
            blocks.append(out.reshape(n_edges, mul * width))
        return torch.cat(blocks, dim=-1).index_select(1, self.gather)
