"""Equiformer backbone: symmetries, force encoding, gradient forces, exact paper sizes."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3

from bench import testing
from bench.backbones import build_backbone
from bench.backbones.layers import (
    DepthwiseTensorProduct,
    EquivariantLayerNorm,
    Gate,
    IrrepsLinear,
    encode_forces,
)
from bench.backbones.layers.tensor_product import ALGORITHMS, PATHS_MIN_MUL
from bench.data import keys
from bench.errors import ConfigError

#: float64 tolerances: the networks are exactly equivariant up to round-off
TIGHT = {"atol": 1e-12, "rtol": 1e-10}


def ci_model(name: str, dens: bool, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return (
        build_backbone(name, "ci", "md17", force_encoding=dens, noise_head=dens, **overrides)
        .double()
        .eval()
    )


def molecules(seed: int = 0, encoded: bool = False):
    """Two random molecules (5-8 atoms, float64); optionally with encoded forces, some zero."""
    gen = torch.Generator().manual_seed(seed)
    batch = testing.make_molecule_batch(2, (5, 8), gen)
    if encoded:
        keep = torch.rand(batch.pos.shape[0], 1, generator=gen, dtype=torch.float64) < 0.6
        batch = testing.with_encoded_forces(batch, batch.forces * keep)
    return batch


def check_symmetries(model, batch, seed: int = 1) -> None:
    """Rotation, translation and permutation checks from bench.testing."""
    gen = torch.Generator().manual_seed(seed)
    testing.assert_equivariant(model, batch, testing.random_rotation(generator=gen), **TIGHT)
    testing.assert_translation_invariant(model, batch, torch.randn(3, generator=gen) * 3, **TIGHT)
    testing.assert_permutation_equivariant(model, batch, gen, **TIGHT)


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "dens"])
def model(request):
    return ci_model("equiformer", request.param)


@pytest.mark.parametrize("encoded", [False, True], ids=["no-forces", "encoded-forces"])
def test_symmetries(model, encoded):
    out = model(molecules(encoded=encoded))
    assert set(out) == {"energy", "forces"} | (
        {"noise"} if model.capabilities.noise_head else set()
    )
    check_symmetries(model, molecules(encoded=encoded))


def test_direct_forces_are_equivariant():
    for dens in (False, True):
        check_symmetries(ci_model("equiformer", dens, force_mode="direct"), molecules(3, dens))


def test_forces_match_finite_differences(model):
    gen = torch.Generator().manual_seed(2)
    testing.assert_forces_are_neg_grad(
        model, molecules(encoded=model.capabilities.noise_head), generator=gen
    )


def test_not_reflection_invariant(model):
    """All irreps are even (SE(3) only), so a mirror image can change the energy."""
    batch = molecules()
    mirrored = testing.transformed(batch, rotation=torch.diag(torch.tensor([-1.0, 1.0, 1.0])))
    assert not model.reflection_equivariant
    assert (model(batch)["energy"] - model(mirrored)["energy"]).abs().max() > 1e-6


def test_zero_encoded_forces_equal_absent():
    model = ci_model("equiformer", True)
    batch = molecules()
    absent = model(batch)
    zero = model(testing.with_encoded_forces(batch, torch.zeros_like(batch.pos)))
    for key, value in absent.items():
        assert torch.isfinite(zero[key]).all()
        torch.testing.assert_close(zero[key], value, rtol=0, atol=0)
    encoded = model(molecules(encoded=True))
    assert (encoded["noise"] - absent["noise"]).abs().max() > 1e-6


def test_zero_force_gradients_are_finite():
    model = ci_model("equiformer", True).train()
    batch = testing.with_encoded_forces(molecules(), torch.zeros_like(molecules().pos))
    out = model(batch)
    (out["energy"].sum() + out["forces"].square().sum() + out["noise"].sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_dropout_options_keep_equivariance():
    """Same random masks (same seed) on a rotated input give rotated outputs in train mode."""
    model = ci_model(
        "equiformer", True, alpha_drop=0.3, proj_drop=0.3, out_drop=0.3, drop_path=0.3
    ).train()
    batch = molecules(encoded=True)
    rot = testing.random_rotation(generator=torch.Generator().manual_seed(4))
    torch.manual_seed(5)
    base = model(batch)
    torch.manual_seed(5)
    moved = model(testing.transformed(batch, rotation=rot))
    torch.testing.assert_close(moved["energy"], base["energy"], **TIGHT)
    torch.testing.assert_close(moved["noise"], base["noise"] @ rot.T, **TIGHT)
    torch.manual_seed(6)
    assert (model(batch)["energy"] - base["energy"]).abs().max() > 1e-6


def test_encode_forces_vector_part_is_the_force():
    f = torch.randn(5, 3, dtype=torch.float64)
    f[2] = 0.0
    enc = encode_forces(f, 2)
    torch.testing.assert_close(enc[:, 1:4], f)
    torch.testing.assert_close(enc[:, 0], f.norm(dim=-1) / 3**0.5)
    assert (enc[2] == 0).all()
    rot = testing.random_rotation()
    d = o3.Irreps.spherical_harmonics(2, p=1).D_from_matrix(rot)
    torch.testing.assert_close(encode_forces(f @ rot.T, 2), enc @ d.T, atol=1e-5, rtol=0)


def test_layer_norm_and_gate_are_equivariant():
    irreps = o3.Irreps("6x0e+4x1e+2x2e")
    rot = testing.random_rotation()
    norm, gate = EquivariantLayerNorm(irreps).double(), Gate(irreps)
    x = torch.randn(7, irreps.dim, dtype=torch.float64)
    y = torch.randn(7, gate.irreps_in.dim, dtype=torch.float64)
    d_in, d_gate = irreps.D_from_matrix(rot), gate.irreps_in.D_from_matrix(rot)
    torch.testing.assert_close(norm(x @ d_in.T), norm(x) @ d_in.T)
    torch.testing.assert_close(gate(y @ d_gate.T), gate(y) @ d_in.T)
    assert norm(x)[:, :6].mean(-1).abs().max() < 1e-12  # scalars centred (bias starts at 0)


@pytest.mark.parametrize("algorithm", ["paths", "blocks"])
def test_depthwise_tensor_product_matches_e3nn(algorithm):
    """Same maths as e3nn's "uvu" TensorProduct given the same per-edge weights."""
    irreps, sh = o3.Irreps("4x0e+3x1e+2x2e"), o3.Irreps.spherical_harmonics(2, p=1)
    tp = DepthwiseTensorProduct(irreps, sh, irreps, algorithm=algorithm)
    targets = {ir for _, ir in irreps}
    paths = [
        (i, j, ir)
        for i, (_, a) in enumerate(irreps)
        for j, (_, b) in enumerate(sh)
        for ir in a * b
        if ir in targets
    ]
    slot = {k: n for n, k in enumerate(sorted(range(len(paths)), key=lambda k: (paths[k][2].l, k)))}
    ref = o3.TensorProduct(
        irreps,
        sh,
        tp.irreps_out,
        [(i, j, slot[k], "uvu", True) for k, (i, j, _) in enumerate(paths)],
        internal_weights=False,
        shared_weights=False,
    )
    x, vec = irreps.randn(6, -1, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    y = o3.spherical_harmonics(sh, vec, True)
    w = torch.randn(6, tp.weight_numel, dtype=torch.float64)
    assert tp.weight_numel == ref.weight_numel == 4 * 3 + 3 * 6 + 2 * 6
    torch.testing.assert_close(tp.double()(x, y, w), ref.double()(x, y, w))


def test_tensor_product_algorithms_agree_to_second_order_and_share_state():
    """ "paths" and "blocks" differ in rounding only: same outputs, same gradient forces and
    same second-order gradients (what force training backpropagates), same state dict keys."""
    irreps, sh = o3.Irreps("5x0e+3x1e+2x2e"), o3.Irreps.spherical_harmonics(2, p=1)
    tps = {a: DepthwiseTensorProduct(irreps, sh, irreps, True, a).double() for a in ALGORITHMS[1:]}
    tps["blocks"].load_state_dict(tps["paths"].state_dict())
    assert set(tps["blocks"].state_dict()) == set(tps["paths"].state_dict()) == {"weight"}
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(7, irreps.dim, generator=gen, dtype=torch.float64)
    vec = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    got = {}
    for name, tp in tps.items():
        v = vec.clone().requires_grad_(True)
        out = tp(x, o3.spherical_harmonics(sh, v, True))
        (force,) = torch.autograd.grad(out.pow(2).sum(), v, create_graph=True)
        (second,) = torch.autograd.grad(force.pow(2).sum(), tp.weight)
        got[name] = (out, force, second)
    for a, b in zip(got["paths"], got["blocks"], strict=True):
        torch.testing.assert_close(a, b, **TIGHT)


def test_tensor_product_algorithm_follows_the_widest_block():
    sh = o3.Irreps.spherical_harmonics(2, p=1)
    narrow = o3.Irreps(f"{PATHS_MIN_MUL - 1}x0e+4x1e")
    wide = o3.Irreps(f"{PATHS_MIN_MUL}x0e+4x1e")
    assert DepthwiseTensorProduct(narrow, sh, narrow).algorithm == "blocks"
    assert DepthwiseTensorProduct(wide, sh, wide).algorithm == "paths"
    assert DepthwiseTensorProduct(wide, sh, wide, algorithm="blocks").algorithm == "blocks"
    with pytest.raises(ValueError, match="'fused'"):
        DepthwiseTensorProduct(wide, sh, wide, algorithm="fused")


def test_irreps_linear_matches_e3nn():
    """e3nn's Linear divides by sqrt(fan_in) in the forward; ours has that factor in W."""
    irreps_in, irreps_out = o3.Irreps("5x0e+3x1e+2x2e"), o3.Irreps("4x0e+2x1e+1x3e")
    lin = IrrepsLinear(irreps_in, irreps_out, bias=True).double()
    ref = o3.Linear(irreps_in, irreps_out, biases=True).double()
    with torch.no_grad():
        ref.weight.copy_(torch.cat([w.flatten() * len(w) ** 0.5 for w in lin.weights.values()]))
        lin.biases["0"].normal_()
        ref.bias.copy_(lin.biases["0"])
    x = irreps_in.randn(3, -1, dtype=torch.float64)
    assert sum(p.numel() for p in lin.parameters()) == sum(p.numel() for p in ref.parameters())
    torch.testing.assert_close(lin(x), ref(x))
    assert (lin(x)[:, -7:] == 0).all()  # no 3e input: that output is zero


def test_irreps_linear_graph_holds_no_view_of_a_wider_input():
    """A block of a wider tensor (as the attention's messages are) goes in; the autograd graph
    must not keep the wide tensor's storage alive, and the result is that of a copy, bitwise."""
    irreps_in, irreps_out = o3.Irreps("6x0e+4x1e+2x2e"), o3.Irreps("5x0e+3x1e+2x2e")
    lin = IrrepsLinear(irreps_in, irreps_out, bias=True)
    wide = torch.randn(7, 3 * irreps_in.dim, requires_grad=True)
    x = wide[:, : irreps_in.dim]
    saved = []

    def pack(t):
        saved.append(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = lin(x)
    assert saved and wide.untyped_storage().data_ptr() not in saved
    copy = x.detach().clone().requires_grad_(True)
    y_copy = lin(copy)
    assert torch.equal(y, y_copy)
    (grad,) = torch.autograd.grad(y.square().sum(), wide)
    (grad_copy,) = torch.autograd.grad(y_copy.square().sum(), copy)
    assert torch.equal(grad[:, : irreps_in.dim], grad_copy)


@pytest.mark.parametrize(
    ("lmax", "dens", "expected"),
    [(2, False, 3_496_001), (2, True, 4_000_577), (3, False, 5_500_865), (3, True, 6_354_241)],
)
def test_paper_parameter_counts(lmax, dens, expected):
    """The authors' code's counts (DeNS spec section 6); a difference is another network."""
    model = build_backbone(
        "equiformer", "paper", "md17", force_encoding=dens, noise_head=dens, lmax=lmax
    )
    assert sum(p.numel() for p in model.parameters()) == expected
    node = {2: "128x0e+64x1e+32x2e", 3: "128x0e+64x1e+64x2e+32x3e"}[lmax]
    assert model.irreps.node == o3.Irreps(node)


@pytest.mark.parametrize(
    ("preset", "dens", "expected"),
    [("study", False, 40_345), ("study", True, 53_113), ("study-c32", False, 117_489)],
)
def test_study_preset_parameter_counts(preset, dens, expected):
    """The counts results/dens-small-study states beside the paper's 3.5M."""
    model = build_backbone("equiformer", preset, "md17", force_encoding=dens, noise_head=dens)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"lmax": 4},
        {"channels": 20},
        {"num_heads": 3},
        {"num_blocks": 0},
        {"cutoff": -1.0},
        {"force_mode": "both"},
        {"drop_path": 1.0},
    ],
)
def test_rejects_bad_options(bad):
    with pytest.raises(ConfigError, match="got"):
        build_backbone("equiformer", "ci", "md17", **bad)


def test_atomic_number_beyond_one_hot_is_an_error():
    batch = molecules()
    batch[keys.Z] = batch.z.clone().fill_(64)
    with pytest.raises(ValueError, match="num_elements"):
        ci_model("equiformer", False)(batch)
