"""Per-edge rotations into and out of the edge frame, built once per forward pass."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.backbones.so3.layout import SHLayout
from bench.backbones.so3.wigner import WignerD, edge_frames


@dataclass
class EdgeRotation:
    """Dense per-edge maps between node coefficients and m-primary edge-frame coefficients.

    ``to_edge`` [E, reduced_dim, dim] applies the Wigner-D matrix of the edge frame and keeps
    the orders ``|m| <= mmax`` in m-primary order (see bench.backbones.so3.layout); ``from_edge``
    [E, dim, reduced_dim] is its transpose, optionally times EquiformerV2's truncation rescale.
    Every block reuses these two tensors; nothing is recomputed per layer.
    """

    to_edge: Tensor
    from_edge: Tensor

    def rotate(self, x: Tensor) -> Tensor:
        """[E, dim, C] node-frame coefficients (gathered per edge) -> [E, reduced_dim, C]."""
        return torch.bmm(self.to_edge, x)

    def rotate_back(self, x: Tensor) -> Tensor:
        """[E, reduced_dim, C] edge-frame coefficients -> [E, dim, C] in the node frame."""
        return torch.bmm(self.from_edge, x)

    def rotate_back_m0(self, x: Tensor) -> Tensor:
        """[E, lmax + 1, C] coefficients of order m = 0 only -> [E, dim, C] in the node frame."""
        return torch.bmm(self.from_edge[:, :, : x.shape[1]], x)

    def rotate_back_low(self, x: Tensor, columns: Tensor, lmax: int) -> Tensor:
        """[E, K', C] edge-frame coefficients of degrees 0..lmax (those at the reduced positions
        ``columns``, see SHLayout.reduced_positions) -> [E, (lmax+1)**2, C] in the node frame.

        The Wigner-D matrices are block-diagonal in the degree, so this is exactly the first
        rows of :meth:`rotate_back` at a fraction of its cost."""
        return torch.bmm(self.from_edge[:, : (lmax + 1) ** 2].index_select(2, columns), x)

    def subset(self, index: Tensor) -> EdgeRotation:
        """The rotations of the edges ``index`` (long [E'])."""
        return EdgeRotation(
            self.to_edge.index_select(0, index), self.from_edge.index_select(0, index)
        )


class EdgeRotationBuilder(nn.Module):
    """Builds the :class:`EdgeRotation` of a batch of edge vectors for one layout.

    Args:
        layout: degrees and edge-frame orders kept.
        rescale: multiply degrees l > mmax by ``sqrt((2l+1)/(2 mmax+1))`` when rotating back
            (EquiformerV2 does; eSCN does not).
    """

    def __init__(self, layout: SHLayout, rescale: bool) -> None:
        super().__init__()
        self.layout = layout
        self.wigner = WignerD(layout.lmax)
        scale = layout.truncation_rescale() if rescale else torch.ones(layout.dim)
        reduced = layout.reduced_index()
        self.register_buffer("reduced_index", reduced, persistent=False)
        self.register_buffer("back_scale", scale[reduced].double(), persistent=False)

    def forward(self, edge_vec: Tensor) -> EdgeRotation:
        """edge_vec [E, 3] (Angstrom, any length > 0) -> the rotations of its edge frames."""
        wigner = self.wigner(edge_frames(edge_vec))
        to_edge = wigner[:, self.reduced_index, :]
        back_scale = self.back_scale.to(edge_vec.dtype)
        from_edge = to_edge.transpose(1, 2) * back_scale
        return EdgeRotation(to_edge.contiguous(), from_edge.contiguous())
