"""Depthwise tensor products of node features with edge spherical harmonics."""

from __future__ import annotations

import math
import re

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.layers.concat import concat
from bench.backbones.layers.constants import drop_stale

SCALAR = o3.Irrep("0e")
#: constant buffers that state dicts written before they became non-persistent carry
_STALE = re.compile(r"gather|(coupling|spread)_\d+")
#: the algorithms of :class:`DepthwiseTensorProduct` (same maths, different rounding)
ALGORITHMS = ("auto", "paths", "blocks")
#: "auto" takes "paths" when the widest input block has at least this many channels, else
#: "blocks": on CPU the per-path batched matmuls of narrow blocks cost more than the wasted
#: multiply-adds of one matmul per block. Equiformer Lmax 2 training step, 8 aspirin, 1
#: thread, paths / blocks in one process: 1.34 (16 channels), 1.24 (32), 1.03 (64), 0.89 (128)
PATHS_MIN_MUL = 96


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
        algorithm: "paths" (one operator and batched matmul per path), "blocks" (one matmul
            per input block on the outer product x (x) Y), or "auto" (by PATHS_MIN_MUL). The
            choice changes floating-point rounding only; it is not state.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_target: o3.Irreps,
        internal_weights: bool = False,
        algorithm: str = "auto",
    ) -> None:
        super().__init__()
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
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
        if algorithm == "auto":
            widest = max(mul for mul, _ in self.irreps_in)
            algorithm = "paths" if widest >= PATHS_MIN_MUL else "blocks"
        self.algorithm = algorithm
        self.order = order
        self._build_paths(paths)
        if algorithm == "blocks":
            self._build_blocks(paths)
        self.weight = nn.Parameter(torch.randn(self.weight_numel)) if internal_weights else None

    def _build_paths(self, paths: list[tuple[int, int, o3.Irrep]]) -> None:
        """Per path k = (input block i, harmonic j, l_out): its shapes
        ``(i, j, mul, d_in, d_out)`` and, for the "paths" algorithm, its coupling matrix
        ``coupling_k`` [d_sh_j, d_in * d_out] mapping Y_j to the path's [d_in, d_out]
        per-edge operator on x_u.

        Couplings are kept in float64 (cast to the input dtype when used), so that float64
        models are equivariant to float64 precision. They are constants of the irreps, not
        state: older state dicts that stored them load (their copies are ignored).
        """
        self.in_dims = [mul * ir.dim for mul, ir in self.irreps_in]
        self.sh_dims = [ir.dim for _, ir in self.irreps_sh]
        self.path_shapes: list[tuple[int, int, int, int, int]] = []
        for k, (i, j, ir_out) in enumerate(paths):
            mul, ir_in = self.irreps_in[i]
            ir_sh = self.irreps_sh[j].ir
            c = o3.wigner_3j(ir_in.l, ir_sh.l, ir_out.l, dtype=torch.float64)
            c = c * math.sqrt(ir_out.dim)  # [d_in, d_sh, d_out]
            coupling = c.permute(1, 0, 2).reshape(ir_sh.dim, ir_in.dim * ir_out.dim)
            if self.algorithm == "paths":  # the block form has couplings of its own
                self.register_buffer(f"coupling_{k}", coupling.contiguous(), persistent=False)
            self.path_shapes.append((i, j, mul, ir_in.dim, ir_out.dim))

    def _build_blocks(self, paths: list[tuple[int, int, o3.Irrep]]) -> None:
        """Per input block i, ``block_coupling_i`` [d_in * sh.dim, K] mapping the outer
        product (x_u (x) Y) to the block's K output columns (its paths side by side, zero
        where a path does not use a harmonic), ``block_spread_i`` [paths of i, K] spreading
        each path's weight over its columns, and ``block_gather`` placing every column in the
        sorted output. Non-persistent, like the path couplings.
        """
        sh_slices = self.irreps_sh.slices()
        self.block_w_sizes: list[int] = []
        first_col: dict[int, tuple[int, int]] = {}  # path -> (flat offset of its block, column)
        widths, offset = [], 0
        for i, (mul, ir_in) in enumerate(self.irreps_in):
            mine = [k for k, p in enumerate(paths) if p[0] == i]
            width = sum(paths[k][2].dim for k in mine)
            coupling = torch.zeros(ir_in.dim, self.irreps_sh.dim, width, dtype=torch.float64)
            spread = torch.zeros(len(mine), width, dtype=torch.float64)
            col = 0
            for n, k in enumerate(mine):
                _, j, ir_out = paths[k]
                c = o3.wigner_3j(ir_in.l, self.irreps_sh[j].ir.l, ir_out.l, dtype=torch.float64)
                coupling[:, sh_slices[j], col : col + ir_out.dim] = c * math.sqrt(ir_out.dim)
                spread[n, col : col + ir_out.dim] = 1.0
                first_col[k] = (offset, col)
                col += ir_out.dim
            flat = coupling.reshape(ir_in.dim * self.irreps_sh.dim, width)
            self.register_buffer(f"block_coupling_{i}", flat, persistent=False)
            self.register_buffer(f"block_spread_{i}", spread, persistent=False)
            self.block_w_sizes.append(len(mine) * mul)
            widths.append(width)
            offset += mul * width
        gather = []
        for k in self.order:
            i, ir_out = paths[k][0], paths[k][2]
            block, col = first_col[k]
            gather += [
                block + u * widths[i] + col + c
                for u in range(self.irreps_in[i].mul)
                for c in range(ir_out.dim)
            ]
        self.register_buffer("block_gather", torch.tensor(gather), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Drop the constant buffers that state dicts written before they became
        non-persistent still carry (``coupling_i``, ``spread_i``, ``gather``)."""
        drop_stale(state_dict, prefix, _STALE)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
        """x [E, irreps_in.dim], y [E, irreps_sh.dim], weight [E, weight_numel] -> [E, out.dim].

        Per path: the per-edge operator ``M_e = Y_j,e . C`` [d_in, d_out] is formed first, the
        channels are scaled by their path weights, then mapped by it (``(w_u x_u) @ M_e``):
        d_sh times fewer multiply-adds on the channels than coupling the outer product
        ``x_u (x) Y_e``, and the outputs are concatenated in sorted order (no gather).
        """
        if weight is None:
            if self.weight is None:
                raise ValueError("this tensor product takes per-edge weights")
            weight = self.weight.to(x.dtype).expand(x.shape[0], -1)
        if self.algorithm == "blocks":
            return self._forward_blocks(x, y, weight)
        n_edges = x.shape[0]
        xs = x.split(self.in_dims, -1)
        ys = y.split(self.sh_dims, -1)
        ws = weight.split([shape[2] for shape in self.path_shapes], -1)
        outs = []
        for k in self.order:
            i, j, mul, d_in, d_out = self.path_shapes[k]
            coupling = getattr(self, f"coupling_{k}").to(x.dtype)
            operator = (ys[j] @ coupling).reshape(n_edges, d_in, d_out)
            scaled = xs[i].reshape(n_edges, mul, d_in) * ws[k].unsqueeze(-1)
            out = scaled * operator if d_in == 1 else torch.bmm(scaled, operator)
            outs.append(out.reshape(n_edges, mul * d_out))
        return concat(outs, dim=-1)

    def _forward_blocks(self, x: Tensor, y: Tensor, weight: Tensor) -> Tensor:
        """Per input block: the outer product ``x_u (x) Y`` [E, mul, d_in * sh.dim] times the
        block's coupling [d_in * sh.dim, K], times each path's weight spread over its
        columns; then one gather into the sorted order. Fewer, larger operations than the
        per-path form, for more multiply-adds (the zeros of the coupling)."""
        n_edges = x.shape[0]
        blocks = []
        y = y.reshape(n_edges, 1, 1, self.irreps_sh.dim)  # explicit sizes: E may be 0
        for i, (x_i, w_i, (mul, ir)) in enumerate(
            zip(
                x.split(self.in_dims, -1),
                weight.split(self.block_w_sizes, -1),
                self.irreps_in,
                strict=True,
            )
        ):
            coupling = getattr(self, f"block_coupling_{i}").to(x.dtype)
            spread = getattr(self, f"block_spread_{i}").to(x.dtype)
            outer = (x_i.reshape(n_edges, mul, ir.dim, 1) * y).reshape(
                n_edges, mul, coupling.shape[0]
            )
            w_i = w_i.reshape(n_edges, spread.shape[0], mul).transpose(1, 2)  # [E, mul, paths]
            out = (outer @ coupling) * (w_i @ spread)  # [E, mul, K]
            blocks.append(out.reshape(n_edges, mul * spread.shape[1]))
        return concat(blocks, dim=-1).index_select(1, self.block_gather)
