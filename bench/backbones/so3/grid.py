"""Point samples of spherical-harmonic features on an S2 grid, and back (e3nn's S2 grids).

A grid of ``res_beta x res_alpha`` points (beta measured from +y, alpha about y, as in
``e3nn.o3.ToS2Grid``) turns coefficients ``[..., K, C]`` into values ``[..., G, C]``
(G = res_beta * res_alpha); ``from_grid`` is e3nn's quadrature back to coefficients. A
point-wise non-linearity between the two is the "S2 activation": equivariant up to the
quadrature error of the grid, which shrinks as the resolution grows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.so3.layout import SHLayout

NORMALIZATIONS = ("component", "integral")


def default_resolution(lmax: int, mmax: int) -> tuple[int, int]:
    """eSCN / EquiformerV2 default ``(res_beta, res_alpha)`` for degree lmax and order mmax."""
    res_alpha = 2 * (mmax + 1) + 1 if lmax == mmax else 2 * mmax + 1
    return 2 * (lmax + 1), res_alpha


@functools.lru_cache(maxsize=32)
def _grid_matrices(
    lmax: int, res_beta: int, res_alpha: int, normalization: str
) -> tuple[Tensor, Tensor]:
    """float64 [G, (lmax+1)**2] matrices to the grid and (quadrature) back, e3nn's conventions.

    e3nn builds part of its grids in the default dtype, so that is float64 meanwhile.
    """
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        to = o3.ToS2Grid(lmax, (res_beta, res_alpha), normalization, dtype=torch.float64)
        back = o3.FromS2Grid((res_beta, res_alpha), lmax, normalization, dtype=torch.float64)
    finally:
        torch.set_default_dtype(old)
    to_mat = torch.einsum("mbi,am->bai", to.shb, to.sha).reshape(-1, (lmax + 1) ** 2)
    back_mat = torch.einsum("am,mbi->bai", back.sha, back.shb).reshape(-1, (lmax + 1) ** 2)
    return to_mat, back_mat


class S2Grid(nn.Module):
    """Linear maps between (a subset of) SH coefficients and values on an S2 grid.

    Args:
        lmax: maximum degree of the coefficients.
        columns: long [K]: e3nn coefficient index of every input coefficient, in input order.
        resolution: ``(res_beta, res_alpha)``; res_beta must be even.
        normalization: ``"component"`` (EquiformerV2) or ``"integral"`` (eSCN), as in e3nn.
        column_scale: optional float [K] multiplying each coefficient on the way to the grid
            and on the way back (EquiformerV2's m-truncation rescale).
    """

    def __init__(
        self,
        lmax: int,
        columns: Tensor,
        resolution: tuple[int, int],
        normalization: str,
        column_scale: Tensor | None = None,
    ) -> None:
        super().__init__()
        res_beta, res_alpha = resolution
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        if res_beta < 2 or res_beta % 2 or res_alpha < 1:
            raise ValueError(f"grid resolution must have even res_beta >= 2, got {resolution!r}")
        to_mat, back_mat = _grid_matrices(lmax, res_beta, res_alpha, normalization)
        scale = torch.ones(len(columns), dtype=torch.float64)
        if column_scale is not None:
            scale = column_scale.to(torch.float64)
        self.resolution = (res_beta, res_alpha)
        # float64 buffers, cast at use: float64 models keep exact grids.
        self.register_buffer("to_mat", to_mat[:, columns] * scale, persistent=False)
        self.register_buffer(
            "back_mat", (back_mat[:, columns] * scale).T.contiguous(), persistent=False
        )

    @classmethod
    def for_nodes(cls, lmax: int, resolution: tuple[int, int], normalization: str) -> S2Grid:
        """All ``(lmax + 1)**2`` coefficients in e3nn order (node features)."""
        return cls(lmax, torch.arange((lmax + 1) ** 2), resolution, normalization)

    @classmethod
    def for_edges(
        cls, layout: SHLayout, resolution: tuple[int, int], normalization: str, rescale: bool
    ) -> S2Grid:
        """The m-primary edge-frame coefficients of ``layout`` (see bench.backbones.so3.layout)."""
        columns = layout.reduced_index()
        scale = layout.truncation_rescale()[columns] if rescale else None
        return cls(layout.lmax, columns, resolution, normalization, scale)

    @property
    def num_points(self) -> int:
        return self.to_mat.shape[0]

    def to_grid(self, x: Tensor) -> Tensor:
        """[..., K, C] coefficients -> [..., G, C] grid values."""
        return torch.matmul(self.to_mat.to(x.dtype), x)

    def from_grid(self, x: Tensor) -> Tensor:
        """[..., G, C] grid values -> [..., K, C] coefficients."""
        return torch.matmul(self.back_mat.to(x.dtype), x)

    def activate(self, x: Tensor, act: Callable[[Tensor], Tensor]) -> Tensor:
        """S2 activation: ``from_grid(act(to_grid(x)))``, [..., K, C] -> [..., K, C]."""
        return self.from_grid(act(self.to_grid(x)))
