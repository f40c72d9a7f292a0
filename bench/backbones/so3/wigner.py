"""Wigner-D matrices of rotation matrices, and per-edge frames that align edges with +y.

The matrices are polynomials in the entries of the 3x3 rotation (no Euler angles, so no
singular ``acos``/``atan2`` gradients): ``D^1 = R`` in e3nn's (x, y, z) basis and
``D^l = (2l+1) C^T (D^{l-1} (x) D^1) C`` with ``C`` the real Clebsch-Gordan coefficients
``e3nn.o3.wigner_3j(l - 1, 1, l)``. Nothing is detached: gradients flow from the outputs
through the Wigner-D matrices to the positions, as gradient forces require.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import Tensor, nn

from bench.backbones.so3.layout import MAX_LMAX


def edge_frames(edge_vec: Tensor) -> Tensor:
    """Rotations [E, 3, 3] with ``R_e @ (edge_vec_e / |edge_vec_e|) = (0, 1, 0)``.

    Two smooth charts: for ``d_y >= 0`` the minimal rotation taking d to +y; otherwise the
    minimal rotation taking d to -y followed by a half turn about x. The roll about the edge
    jumps between charts, which SO(2)-equivariant layers do not see (up to grid quadrature).
    """
    d = edge_vec / edge_vec.norm(dim=-1, keepdim=True)
    flip = d[:, 1] < 0
    target = torch.zeros_like(d)
    target[:, 1] = torch.where(flip, -1.0, 1.0).to(d.dtype)
    v = torch.linalg.cross(d, target)
    cos = (d * target).sum(-1)
    zero = torch.zeros_like(cos)
    skew = torch.stack(
        [zero, -v[:, 2], v[:, 1], v[:, 2], zero, -v[:, 0], -v[:, 1], v[:, 0], zero], dim=-1
    ).view(-1, 3, 3)
    eye = torch.eye(3, dtype=d.dtype, device=d.device)
    rot = eye + skew + skew @ skew / (1.0 + cos).view(-1, 1, 1)
    half_turn = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=d.dtype, device=d.device))
    return torch.where(flip.view(-1, 1, 1), half_turn @ rot, rot)


class WignerD(nn.Module):
    """Block-diagonal Wigner-D matrices of degrees 0..lmax in e3nn's real basis.

    ``forward(rot [E, 3, 3]) -> [E, (lmax+1)**2, (lmax+1)**2]`` such that for real spherical
    harmonics ``Y(R r) = D(R) Y(r)`` (e3nn's ``spherical_harmonics``), and ``D(R)`` equals
    ``e3nn.o3.wigner_D(l, *matrix_to_angles(R))`` on each block.
    """

    def __init__(self, lmax: int) -> None:
        super().__init__()
        if not 0 <= lmax <= MAX_LMAX:
            raise ValueError(f"lmax must be in [0, {MAX_LMAX}], got {lmax!r}")
        self.lmax = lmax
        dim = (lmax + 1) ** 2
        full = torch.arange(dim * dim).view(dim, dim)
        block_pos = [
            full[l * l : (l + 1) ** 2, l * l : (l + 1) ** 2].reshape(-1) for l in range(lmax + 1)
        ]
        # position of every block entry in the flattened block-diagonal matrix
        self.register_buffer("block_pos", torch.cat(block_pos), persistent=False)
        for l in range(2, lmax + 1):
            cg = o3.wigner_3j(l - 1, 1, l, dtype=torch.float64).reshape(3 * (2 * l - 1), 2 * l + 1)
            self.register_buffer(f"cg_{l}", cg * (2 * l + 1) ** 0.5, persistent=False)

    def blocks(self, rot: Tensor) -> list[Tensor]:
        """Per-degree matrices ``[D^0 [E,1,1], D^1 [E,3,3], ..., D^lmax]``."""
        n = rot.shape[0]
        out = [torch.ones(n, 1, 1, dtype=rot.dtype, device=rot.device)]
        if self.lmax >= 1:
            out.append(rot)
        for l in range(2, self.lmax + 1):
            prev = out[-1]
            kron = (prev[:, :, None, :, None] * rot[:, None, :, None, :]).reshape(
                n, 3 * (2 * l - 1), 3 * (2 * l - 1)
            )
            cg = getattr(self, f"cg_{l}").to(rot.dtype)
            out.append(cg.T @ kron @ cg)
        return out

    def forward(self, rot: Tensor) -> Tensor:
        n, dim = rot.shape[0], (self.lmax + 1) ** 2
        flat = torch.cat([block.flatten(1) for block in self.blocks(rot)], dim=1)
        full = rot.new_zeros(n, dim * dim).index_copy(1, self.block_pos, flat)
        return full.view(n, dim, dim)
