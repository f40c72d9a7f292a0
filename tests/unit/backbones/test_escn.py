"""eSCN: released parameter counts, equivariance (float64), training on periodic OC20."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from bench import testing
from bench.backbones.base import AtomInputs
from bench.backbones.escn import _sphere_samples
from bench.backbones.registry import build_backbone
from bench.data import keys
from bench.data.ase_files import read_ase_file
from bench.data.torch_data import collate
from bench.errors import ConfigError

NAME = "escn"
#: fairchem's num_params of the released models (fairchem configs/oc20/s2ef/*/escn, DeNS
#: escn_dens); they include two frozen constants (sample points and harmonics) kept as buffers.
RELEASED = {
    ("oc20", False): 51_844_608,
    ("oc20", True): 51_878_784,
    ("oc20-allmd", False): 200_234_496,
}
#: the paper's (lmax 6, mmax 2) layout shrunk to a few channels for fast float64 tests
SMALL_L6 = dict(
    num_layers=1,
    sphere_channels=8,
    hidden_channels=8,
    edge_channels=8,
    distance_resolution=0.25,
    cutoff=5.0,
)


@pytest.mark.parametrize(("dataset", "dens"), sorted(RELEASED))
def test_paper_presets_have_the_released_parameter_counts(dataset, dens):
    with testing.skip_init():
        model = build_backbone(NAME, "paper", dataset, force_encoding=dens, noise_head=dens)
    trainable = sum(p.numel() for p in model.parameters())
    frozen = model.sphere_points.numel() + model.sphere_sh.numel()
    assert frozen == 128 * 3 + 128 * 49
    assert trainable + frozen == RELEASED[dataset, dens]


def test_ci_oc20_preset_is_equivariant_with_and_without_encoded_forces():
    torch.manual_seed(0)
    model = build_backbone(NAME, "ci", "oc20", force_encoding=True, noise_head=True).double().eval()
    batch = testing.make_molecule_batch(2, (6, 9), generator=torch.Generator().manual_seed(1))
    for inputs in (batch, testing.with_some_encoded_forces(batch)):
        errors = testing.relative_rotation_errors(model, inputs, seed=2)
        assert set(errors) == {keys.OUT_ENERGY, keys.OUT_FORCES, keys.OUT_NOISE}
        assert max(errors.values()) < 1e-6, errors


def test_lmax6_mmax2_architecture_is_equivariant_with_quadrature_heads():
    """The paper's (6, 2) layout with 18 x 18 grids and heads exact to degree 24 is
    equivariant to ~1e-7 (with and without encoded forces); the released 128 golden-spiral
    sample points are far coarser."""
    batch = testing.make_molecule_batch(1, (6, 6), generator=torch.Generator().manual_seed(3))
    worst = {}
    for heads in ("quadrature", "spiral"):
        torch.manual_seed(0)
        extra = (
            {"num_sphere_samples": None, "head_quadrature_degree": 24}
            if heads == "quadrature"
            else {}
        )
        model = (
            build_backbone(
                NAME,
                "paper",
                "oc20",
                force_encoding=True,
                noise_head=True,
                grid_resolution=18,
                **SMALL_L6,
                **extra,
            )
            .double()
            .eval()
        )
        worst[heads] = max(
            max(testing.relative_rotation_errors(model, inputs, seed=4).values())
            for inputs in (batch, testing.with_some_encoded_forces(batch))
        )
    assert worst["quadrature"] < 1e-5, worst
    assert worst["quadrature"] < worst["spiral"] / 100, worst


def test_quadrature_heads_integrate_harmonics_exactly():
    vectors, sh, weights = _sphere_samples(None, 8, lmax=4)
    integrals = (weights[:, None] * sh).mean(dim=0)  # mean over the sphere of each Y_lm
    expected = torch.zeros(25, dtype=torch.float64)
    expected[0] = (4 * math.pi) ** -0.5  # e3nn's integral normalisation
    torch.testing.assert_close(integrals, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(
        vectors.mean(dim=0), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0
    )


def test_released_spiral_samples_have_unit_mean_weight():
    vectors, sh, weights = _sphere_samples(128, None, lmax=6)
    assert vectors.shape == (128, 3) and sh.shape == (128, 49)
    assert vectors.norm(dim=-1).mean().item() == pytest.approx(1.0)
    assert weights.eq(1).all()


def test_gradient_forces_of_lmax6_model_match_finite_differences():
    """Rotations are not detached (released eSCN detaches them), so -dE/dpos is exact."""
    torch.manual_seed(0)
    model = build_backbone(NAME, "paper", "md17", force_mode="gradient", **SMALL_L6)
    batch = testing.make_molecule_batch(1, (5, 5), generator=torch.Generator().manual_seed(5))
    testing.assert_forces_are_neg_grad(
        model.double().eval(), batch, n_directions=2, generator=torch.Generator().manual_seed(6)
    )


def _oc20_batch(data_dir: Path):
    return collate(read_ase_file(data_dir / "oc20_relax" / "random1000156.traj")[:1])


def test_ci_training_steps_on_a_periodic_oc20_frame(data_dir):
    batch = _oc20_batch(data_dir)
    torch.manual_seed(0)
    model = build_backbone(NAME, "ci", "oc20", force_encoding=True, noise_head=True).train()
    graph = model.build_graph(AtomInputs.from_batch(batch, batch.pos))
    shift = graph.edge_vec - (batch.pos[graph.src] - batch.pos[graph.dst])
    assert shift.norm(dim=-1).max() > 1.0  # edges to periodic images are present
    model.set_normalization(float(batch.energy.mean()), 1.0, 1.0)
    batch = testing.with_some_encoded_forces(batch, every=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        out = model(batch)
        loss = (
            (out[keys.OUT_ENERGY] - batch.energy).abs().mean()
            + (out[keys.OUT_FORCES] - batch.forces).norm(dim=-1).mean()
            + out[keys.OUT_NOISE].norm(dim=-1).mean()
        )
        optimizer.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"lmax": 0}, "lmax"),
        ({"mmax": 3}, "mmax"),
        ({"hidden_channels": 0}, "hidden_channels"),
        ({"num_sphere_samples": 128}, "exactly one"),
    ],
)
def test_bad_options_are_rejected(override, match):
    with pytest.raises(ConfigError, match=match):
        build_backbone(NAME, "ci", "md17", **override)
