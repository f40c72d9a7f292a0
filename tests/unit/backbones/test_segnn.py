"""SEGNN-like backbone (Equiformer without attention and layer norm): symmetries and sizes."""

from __future__ import annotations

import pytest
import torch

from bench import testing
from bench.backbones import build_backbone
from bench.backbones.layers import EquivariantLayerNorm
from bench.errors import ConfigError

#: float64 tolerances: the networks are exactly equivariant up to round-off
TIGHT = {"atol": 1e-12, "rtol": 1e-10}


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "dens"])
def model(request):
    torch.manual_seed(0)
    return (
        build_backbone(
            "segnn", "ci", "md17", force_encoding=request.param, noise_head=request.param
        )
        .double()
        .eval()
    )


def molecules(encoded: bool):
    gen = torch.Generator().manual_seed(7)
    batch = testing.make_molecule_batch(2, (5, 8), gen)
    if encoded:
        keep = torch.rand(batch.pos.shape[0], 1, generator=gen, dtype=torch.float64) < 0.6
        batch = testing.with_encoded_forces(batch, batch.forces * keep)
    return batch


@pytest.mark.parametrize("encoded", [False, True], ids=["no-forces", "encoded-forces"])
def test_symmetries(model, encoded):
    gen = torch.Generator().manual_seed(8)
    batch = molecules(encoded)
    testing.assert_equivariant(model, batch, testing.random_rotation(generator=gen), **TIGHT)
    testing.assert_translation_invariant(model, batch, torch.randn(3, generator=gen) * 3, **TIGHT)
    testing.assert_permutation_equivariant(model, batch, gen, **TIGHT)


def test_forces_match_finite_differences(model):
    gen = torch.Generator().manual_seed(9)
    testing.assert_forces_are_neg_grad(
        model, molecules(model.capabilities.noise_head), generator=gen
    )


def test_zero_encoded_forces_equal_absent(model):
    batch = molecules(False)
    zero = model(testing.with_encoded_forces(batch, torch.zeros_like(batch.pos)))
    for key, value in model(batch).items():
        assert torch.isfinite(zero[key]).all()
        torch.testing.assert_close(zero[key], value, rtol=0, atol=0)


def test_has_no_attention_and_no_layer_norm(model):
    modules = list(model.modules())
    assert not any(isinstance(m, EquivariantLayerNorm) for m in modules)
    assert not any(hasattr(m, "alpha_dot") for m in modules)
    assert model.name == "segnn"
    with pytest.raises(ConfigError, match="attention"):
        build_backbone("segnn", "ci", "md17", attention=True)


@pytest.mark.parametrize(
    ("lmax", "dens", "expected"),
    [(2, False, 3_317_185), (2, True, 3_792_449), (3, False, 5_272_129), (3, True, 6_087_745)],
)
def test_paper_parameter_counts(lmax, dens, expected):
    """Equiformer's counts minus the attention branches (lin_alpha, alpha_dot) and norms."""
    model = build_backbone(
        "segnn", "paper", "md17", force_encoding=dens, noise_head=dens, lmax=lmax
    )
    assert sum(p.numel() for p in model.parameters()) == expected
