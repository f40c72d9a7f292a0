"""The contract every backbone meets, run over EVERY registered name, with and without DeNS.

ci presets (md17) in float64, in both force modes (the preset's and the other one through
the ``force_mode`` override), on tiny random molecules (5-8 atoms, 2 structures).
"""

from __future__ import annotations

import functools

import pytest
import torch

from bench import testing
from bench.backbones.registry import BACKBONES, build_backbone
from bench.data import keys
from bench.data.torch_data import collate
from bench.registry import resolve

NAMES = sorted(BACKBONES)
DENS = (False, True)
FORCE_MODES = ("gradient", "direct")


@functools.cache
def _model(name: str, dens: bool, force_mode: str, dataset: str = "md17"):
    """One float64 eval-mode ci model per configuration, shared by the tests (never mutated).

    No neighbour cap: a cap breaks distance ties arbitrarily (periodic images), which is a
    property of the graph, not of the network under test.
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_backbone(
            name,
            "ci",
            dataset,
            force_encoding=dens,
            noise_head=dens,
            force_mode=force_mode,
            max_neighbors=None,
        )
    return model.double().eval()


def _batch(seed: int, encoded: bool, n_structures: int = 2):
    """Random molecules; with ``encoded``, their forces as encoded forces, every third row 0."""
    g = torch.Generator().manual_seed(seed)
    batch = testing.make_molecule_batch(n_structures, (5, 8), generator=g)
    if not encoded:
        return batch
    forces = batch.forces.clone()
    forces[::3] = 0.0
    return testing.with_encoded_forces(batch, forces)


config = pytest.mark.parametrize(
    ("name", "dens", "force_mode"),
    [(n, d, m) for n in NAMES for d in DENS for m in FORCE_MODES],
    ids=lambda v: {True: "dens", False: "plain"}.get(v, v) if isinstance(v, bool) else v,
)
encoded_param = pytest.mark.parametrize("encoded", [False, True], ids=["no-enc", "enc"])


@config
def test_outputs_have_contract_shapes(name, dens, force_mode):
    batch = _batch(0, encoded=True)
    out = _model(name, dens, force_mode)(batch)
    expected = {keys.OUT_ENERGY, keys.OUT_FORCES} | ({keys.OUT_NOISE} if dens else set())
    assert set(out) == expected
    n = batch.num_nodes
    assert out[keys.OUT_ENERGY].shape == (2,)
    for key in expected - {keys.OUT_ENERGY}:
        assert out[key].shape == (n, 3)
        assert out[key].abs().sum() > 0, f"{key} is identically zero"
    for value in out.values():
        assert value.dtype == torch.float64
        assert torch.isfinite(value).all()


@config
@encoded_param
def test_rotation_equivariance(name, dens, force_mode, encoded):
    g = torch.Generator().manual_seed(1)
    model = _model(name, dens, force_mode)
    testing.assert_equivariant(model, _batch(1, encoded), testing.random_rotation(generator=g))


@config
@encoded_param
def test_reflection_equivariance(name, dens, force_mode, encoded):
    model = _model(name, dens, force_mode)
    if not model.reflection_equivariant:
        pytest.skip(f"{name} is SE(3)- but not E(3)-equivariant (declared)")
    g = torch.Generator().manual_seed(2)
    testing.assert_equivariant(model, _batch(2, encoded), testing.random_reflection(generator=g))


@config
@encoded_param
def test_translation_invariance(name, dens, force_mode, encoded):
    shift = torch.tensor([3.7, -1.2, 25.0], dtype=torch.float64)
    testing.assert_translation_invariant(_model(name, dens, force_mode), _batch(3, encoded), shift)


@config
@encoded_param
def test_permutation_equivariance(name, dens, force_mode, encoded):
    g = torch.Generator().manual_seed(4)
    testing.assert_permutation_equivariant(_model(name, dens, force_mode), _batch(4, encoded), g)


@config
def test_zero_encoded_forces_equal_absent(name, dens, force_mode):
    model = _model(name, dens, force_mode)
    batch = _batch(5, encoded=False)
    absent = model(batch)
    zero = model(testing.with_encoded_forces(batch, torch.zeros_like(batch.pos)))
    for key, value in absent.items():
        assert torch.isfinite(zero[key]).all()
        torch.testing.assert_close(zero[key], value, atol=1e-12, rtol=0.0)


@config
def test_encoded_forces_used_only_with_dens(name, dens, force_mode):
    model = _model(name, dens, force_mode)
    batch = _batch(6, encoded=False)
    plain = model(batch)
    encoded = model(testing.with_encoded_forces(batch, batch.forces))
    changed = not torch.allclose(encoded[keys.OUT_ENERGY], plain[keys.OUT_ENERGY], atol=1e-9)
    assert changed == dens


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dens", DENS, ids=["plain", "dens"])
def test_gradient_forces_match_finite_differences(name, dens):
    g = torch.Generator().manual_seed(7)
    model = _model(name, dens, "gradient")
    testing.assert_forces_are_neg_grad(model, _batch(7, encoded=True), generator=g)


@config
def test_batch_gives_per_structure_outputs(name, dens, force_mode):
    model = _model(name, dens, force_mode)
    g = torch.Generator().manual_seed(8)
    structures = testing.random_molecules(2, (5, 8), generator=g)
    parts = (structures, structures[:1], structures[1:])
    batches = [collate(s, torch.float64) for s in parts]
    batches = [testing.with_encoded_forces(b, b.forces) for b in batches]
    joint, first, second = (model(b) for b in batches)
    for key, value in joint.items():
        torch.testing.assert_close(
            value, torch.cat([first[key], second[key]]), atol=1e-10, rtol=1e-8
        )


@config
def test_training_loss_reaches_every_parameter(name, dens, force_mode):
    model = _model(name, dens, force_mode)
    batch = _batch(9, encoded=True)
    with torch.enable_grad():
        out = model(batch)
        loss = sum(v.square().sum() for v in out.values())
        grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    unused = [n for (n, _), gr in zip(model.named_parameters(), grads, strict=True) if gr is None]
    assert not unused, f"parameters without gradient: {unused}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dens", DENS, ids=["plain", "dens"])
def test_periodic_symmetries(name, dens):
    """oc20 ci preset on a random crystal: rotation (cell included), translation, and moving
    one atom by a lattice vector leave the physics unchanged."""
    model = _model(name, dens, "direct", "oc20")
    g = torch.Generator().manual_seed(10)
    batch = testing.make_periodic_batch(1, (4, 5), generator=g)
    batch = testing.with_encoded_forces(batch, batch.forces)
    testing.assert_equivariant(model, batch, testing.random_rotation(generator=g))
    testing.assert_translation_invariant(model, batch, torch.tensor([0.3, -2.1, 7.7]).double())
    moved = batch.clone()
    moved.pos[0] = moved.pos[0] + batch.cell[0, 1] - batch.cell[0, 2]
    base, image = model(batch), model(moved)
    for key, value in base.items():
        torch.testing.assert_close(image[key], value, atol=1e-8, rtol=1e-6)


SIGMA_NAMES = [n for n in NAMES if resolve(BACKBONES, n, "backbone").sigma_encoding]


def _sigma_batch(seed: int):
    """Two structures with encoded forces; the first noised at sigma 0.3 A, the second clean."""
    batch = _batch(seed, encoded=True)
    sigma = torch.where(batch.batch == 0, 0.3, 0.0).double()
    batch[keys.NOISE_SIGMA] = sigma
    return batch


@functools.cache
def _sigma_model(name: str, force_mode: str):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_backbone(
            name,
            "ci",
            "md17",
            force_encoding=True,
            noise_head=True,
            encode_sigma=True,
            force_mode=force_mode,
            max_neighbors=None,
        )
    return model.double().eval()


def test_sigma_encoding_is_declared_by_equiformer_v2():
    assert SIGMA_NAMES == ["equiformer-v2"]


@pytest.mark.parametrize("name", SIGMA_NAMES)
@pytest.mark.parametrize("force_mode", FORCE_MODES)
def test_sigma_encoding_contract(name, force_mode):
    """Zero (or absent) sigma changes nothing; a non-zero sigma changes only its structure;
    rotations act on the outputs as without sigma (sigma is a scalar)."""
    model = _sigma_model(name, force_mode)
    batch = _sigma_batch(8)
    clean = batch.clone()
    del clean[keys.NOISE_SIGMA]
    zero = batch.clone()
    zero[keys.NOISE_SIGMA] = torch.zeros_like(batch[keys.NOISE_SIGMA])
    noised, absent, zeros = model(batch), model(clean), model(zero)
    torch.testing.assert_close(
        zeros[keys.OUT_ENERGY], absent[keys.OUT_ENERGY], atol=1e-12, rtol=0.0
    )
    energy_change = (noised[keys.OUT_ENERGY] - absent[keys.OUT_ENERGY]).abs()
    assert energy_change[0] > 1e-6 and energy_change[1] < 1e-12
    g = torch.Generator().manual_seed(9)
    testing.assert_equivariant(model, batch, testing.random_rotation(generator=g))


def test_sigma_encoding_is_refused_elsewhere():
    from bench.config import resolve_config
    from bench.errors import ConfigError
    from bench.train.normalization import Normalization
    from bench.train.setup import build_model, build_run_method

    cfg = resolve_config(
        "schnet", "dens", "md17", "ci", "paper-v1", overrides=["method.params.encode_sigma=true"]
    )
    method = build_run_method(cfg)
    with pytest.raises(ConfigError, match="encode_sigma needs a backbone that encodes sigma"):
        build_model(cfg, method, Normalization(0.0, 1.0, 1.0))
