"""bench.backbones.so3: Wigner-D matrices, edge frames, SO(2) maps, S2 grids, force encoding
(float64)."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3

from bench.backbones.so3 import (
    EdgeRotationBuilder,
    ForceEncoder,
    S2Grid,
    SHLayout,
    SO2Linear,
    SO3Linear,
    WignerD,
    edge_frames,
    force_sh,
)

DT = torch.float64


def _rotations(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, dtype=DT, generator=g))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    q[torch.det(q) < 0] *= -1
    return q


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=DT, generator=torch.Generator().manual_seed(seed))


def test_layout_counts_and_m_primary_order():
    layout = SHLayout(6, 2)
    assert (layout.dim, layout.m_sizes, layout.reduced_dim) == (49, (7, 6, 5), 29)
    idx = SHLayout(2, 1).reduced_index().tolist()
    # m = 0 of l = 0, 1, 2; then m = +1 of l = 1, 2; then m = -1 of l = 1, 2 (e3nn l^2 + l + m)
    assert idx == [0, 2, 6, 3, 7, 1, 5]
    scale = layout.truncation_rescale()
    assert scale[:9].eq(1).all() and scale[9].item() == pytest.approx((7 / 5) ** 0.5)


@pytest.mark.parametrize(("lmax", "mmax"), [(-1, 0), (2, 3), (11, 2)])
def test_layout_rejects_bad_degrees(lmax, mmax):
    with pytest.raises(ValueError, match="must be in"):
        SHLayout(lmax, mmax)


@pytest.fixture
def float64_default():
    """e3nn builds its Wigner-D generators in the default dtype: make that float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(DT)
    yield
    torch.set_default_dtype(old)


def test_wigner_d_matches_e3nn_for_every_degree_up_to_6(float64_default):
    rot = _rotations(20, seed=1)
    alpha, beta, gamma = o3.matrix_to_angles(rot)
    points = _randn(20, 3, seed=2)
    blocks = WignerD(6).blocks(rot)
    full = WignerD(6).double()(rot)
    for e in (0, 7):
        torch.testing.assert_close(full[e], torch.block_diag(*[b[e] for b in blocks]))
    torch.testing.assert_close(full @ full.transpose(1, 2), torch.eye(49, dtype=DT).expand_as(full))
    for l, block in enumerate(blocks):
        torch.testing.assert_close(block, o3.wigner_D(l, alpha, beta, gamma), atol=1e-10, rtol=0)
        rotated = o3.spherical_harmonics(l, torch.einsum("eij,ej->ei", rot, points), True)
        expected = torch.einsum("eij,ej->ei", block, o3.spherical_harmonics(l, points, True))
        torch.testing.assert_close(rotated, expected, atol=1e-10, rtol=0)


def test_edge_frames_align_every_direction_with_y_including_poles():
    poles = torch.tensor([[0, 2.0, 0], [0, -1.5, 0], [1.0, 0, 0], [0, 0, -3.0]], dtype=DT)
    vec = torch.cat([_randn(50, 3, seed=3), poles])
    vec.requires_grad_(True)
    rot = edge_frames(vec)
    unit = vec / vec.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(
        torch.einsum("eij,ej->ei", rot, unit), torch.tensor([0, 1.0, 0], dtype=DT).expand(54, 3)
    )
    torch.testing.assert_close(rot @ rot.transpose(1, 2), torch.eye(3, dtype=DT).expand(54, 3, 3))
    torch.testing.assert_close(torch.det(rot), torch.ones(54, dtype=DT))
    (grad,) = torch.autograd.grad(rot.sum(), vec)
    assert torch.isfinite(grad).all()


def test_rotating_to_the_edge_frame_and_back_projects_onto_the_kept_orders():
    layout = SHLayout(4, 2)
    rotation = EdgeRotationBuilder(layout, rescale=False).double()(_randn(6, 3, seed=4))
    x = _randn(6, layout.dim, 3, seed=5)
    once = rotation.rotate_back(rotation.rotate(x))
    torch.testing.assert_close(rotation.rotate_back(rotation.rotate(once)), once)
    full = EdgeRotationBuilder(SHLayout(4, 4), rescale=False).double()(_randn(6, 3, seed=4))
    torch.testing.assert_close(full.rotate_back(full.rotate(x)), x)


def _edge_op(layout, op, vec, x, edge_scalars=None):
    """Node-frame features per edge [E, dim, C] -> rotate, SO(2) op, rotate back."""
    rotation = EdgeRotationBuilder(layout, rescale=True).double()(vec)
    out, extra = op(rotation.rotate(x), edge_scalars)
    return rotation.rotate_back(out), extra


@pytest.mark.parametrize(("lmax", "mmax"), [(2, 1), (6, 2), (3, 3)])
def test_so2_linear_in_edge_frames_is_rotation_equivariant(lmax, mmax):
    layout = SHLayout(lmax, mmax)
    torch.manual_seed(0)
    op = SO2Linear(layout, 4, 3, extra_m0_channels=2, radial_channels=[5, 8]).double()
    vec, x, scalars = _randn(7, 3, seed=6), _randn(7, layout.dim, 4, seed=7), _randn(7, 5)
    rot = _rotations(1, seed=8)[0]
    wigner = WignerD(lmax).double()(rot[None])[0]
    out, extra = _edge_op(layout, op, vec, x, scalars)
    out_rot, extra_rot = _edge_op(layout, op, vec @ rot.T, wigner @ x, scalars)
    torch.testing.assert_close(out_rot, wigner @ out, atol=1e-12, rtol=0)
    torch.testing.assert_close(extra_rot, extra, atol=1e-12, rtol=0)


def test_so3_linear_is_equivariant_with_bias_only_on_l0():
    torch.manual_seed(0)
    linear = SO3Linear(3, 5, lmax=3).double()
    torch.nn.init.uniform_(linear.bias, -1, 1)
    x = _randn(4, 16, 3, seed=9)
    wigner = WignerD(3).double()(_rotations(1, seed=10))[0]
    torch.testing.assert_close(linear(wigner @ x), wigner @ linear(x), atol=1e-12, rtol=0)
    zero = linear(torch.zeros(1, 16, 3, dtype=DT))
    assert zero[0, 0].abs().sum() > 0 and zero[0, 1:].abs().sum() == 0


def test_s2_grid_round_trip_is_exact_for_band_limited_features():
    layout = SHLayout(3, 3)
    x = _randn(2, layout.dim, 4, seed=11)
    grid = S2Grid.for_nodes(3, (8, 9), "component").double()
    torch.testing.assert_close(grid.from_grid(grid.to_grid(x)), x, atol=1e-12, rtol=0)
    edge_grid = S2Grid.for_edges(SHLayout(3, 1), (8, 9), "integral", rescale=False).double()
    y = _randn(2, SHLayout(3, 1).reduced_dim, 4, seed=12)
    torch.testing.assert_close(edge_grid.from_grid(edge_grid.to_grid(y)), y, atol=1e-12, rtol=0)


def test_s2_activation_equivariance_error_vanishes_as_the_grid_refines():
    """Point-wise SiLU on a grid is equivariant only up to quadrature: check it converges."""
    x = _randn(3, 9, 4, seed=13)
    wigner = WignerD(2).double()(_rotations(1, seed=14))[0]
    errors = []
    for res in (6, 12, 40):
        grid = S2Grid.for_nodes(2, (res, res), "component").double()
        act = torch.nn.functional.silu
        errors.append((grid.activate(wigner @ x, act) - wigner @ grid.activate(x, act)).abs().max())
    assert errors[0] > 1e-3 and errors[1] < errors[0] / 10 and errors[2] < 1e-11


def test_force_sh_l1_part_is_the_force_and_zero_force_embeds_to_zero():
    forces = torch.cat([_randn(5, 3, seed=15), torch.zeros(2, 3, dtype=DT)]).requires_grad_(True)
    sh = force_sh(forces, lmax=4)
    torch.testing.assert_close(sh[:, 1:4, 0], forces.detach())
    assert sh[5:].eq(0).all()
    (grad,) = torch.autograd.grad(sh.sum(), forces)
    assert torch.isfinite(grad).all()
    wigner = WignerD(4).double()(_rotations(1, seed=16))[0]
    torch.testing.assert_close(
        force_sh(forces.detach() @ wigner[1:4, 1:4].T, 4), wigner @ sh.detach(), atol=1e-12, rtol=0
    )


def test_force_encoder_of_zero_forces_equals_no_forces():
    torch.manual_seed(0)
    encoder = ForceEncoder(channels=6, lmax=2, init_bound=1.0).double()
    torch.nn.init.uniform_(encoder.linear.bias, -1, 1)
    like = torch.zeros(3, 3, dtype=DT)
    absent = encoder(None, 3, like)
    torch.testing.assert_close(
        encoder(torch.zeros(3, 3, dtype=DT), 3, like), absent, atol=0, rtol=0
    )
    assert not torch.allclose(encoder(_randn(3, 3), 3, like), absent)
