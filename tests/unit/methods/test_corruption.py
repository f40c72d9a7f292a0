"""Corruption statistics and batch hygiene of every method's ``prepare``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.data import keys
from bench.data.structure import Structure
from bench.data.torch_data import collate
from bench.data.units import KCAL_PER_MOL_TO_EV
from bench.errors import ConfigError
from bench.methods import METHODS, build_method


def _batch(n_structures: int = 6, seed: int = 0, fixed_every: int = 0, n_atoms: int = 20):
    """Random point clouds of 5..n_atoms atoms with random forces (float64); every
    ``fixed_every``-th atom fixed when > 0 (corruption needs no realistic geometry)."""
    rng = np.random.default_rng(seed)
    structures = []
    for k in range(n_structures):
        n = int(rng.integers(5, n_atoms + 1))
        structures.append(
            Structure(
                z=rng.integers(1, 9, n),
                pos=rng.normal(size=(n, 3)) * 2,
                energy=float(rng.normal()),
                forces=rng.normal(size=(n, 3)),
                id=f"random:{k}",
            )
        )
    batch = collate(structures, torch.float64)
    if fixed_every:
        batch.fixed = torch.arange(batch.num_nodes) % fixed_every == 0
    return batch


def _snapshot(batch) -> dict:
    return {k: v.clone() if torch.is_tensor(v) else v for k, v in batch.to_dict().items()}


def _gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", list(METHODS))
def test_prepare_never_mutates_its_input(name):
    batch = _batch(fixed_every=4)
    before = _snapshot(batch)
    method = build_method(name, **({"p_dens": 1.0} if "den" in name else {}))
    prepared = method.prepare(batch, _gen())
    after = batch.to_dict()
    assert set(after) == set(before)
    for key, value in before.items():
        if torch.is_tensor(value):
            assert torch.equal(after[key], value), key
    assert prepared.batch is not batch


def test_none_leaves_the_batch_untouched():
    batch = _batch()
    prepared = build_method("none").prepare(batch, _gen())
    for key, value in batch.to_dict().items():
        if torch.is_tensor(value):
            assert torch.equal(prepared.batch[key], value), key
    assert keys.ENCODED_FORCES not in prepared.batch
    assert not prepared.noise_mask.any() and not prepared.dens_structure.any()
    assert torch.count_nonzero(prepared.noise_target) == 0


def test_dens_noise_std_matches_sigma_per_structure():
    """Multi-scale: each structure's displacements are N(0, sigma_s^2) with sigma_s on the
    log-spaced grid; pooled eps / sigma_s has unit variance and zero mean."""
    method = build_method(
        "dens",
        p_dens=1.0,
        corrupt_ratio=1.0,
        multi_scale=True,
        sigma_low=0.01,
        sigma_high=0.5,
        num_sigmas=50,
    )
    grid = torch.exp(torch.linspace(math.log(0.01), math.log(0.5), 50, dtype=torch.float64))
    scaled, per_structure = [], []
    gen = _gen(7)
    for seed in range(10):
        batch = _batch(20, seed, n_atoms=40)
        p = method.prepare(batch, gen)
        eps = p.batch.pos - batch.pos
        for s in range(int(batch.num_graphs)):
            atoms = batch.batch == s
            sigma = p.sigma[s]
            assert torch.isclose(grid, sigma).any()  # on the grid
            scaled.append((eps[atoms] / sigma).reshape(-1))
            per_structure.append(float(eps[atoms].std() / sigma))
            # the target is eps / sampled sigma (v1 normaliser), exactly
            torch.testing.assert_close(p.noise_target[atoms], eps[atoms] / sigma)
    z = torch.cat(scaled)
    assert z.numel() > 10_000
    assert abs(float(z.std()) - 1.0) < 0.03
    assert abs(float(z.mean())) < 0.03
    assert 0.9 < sum(per_structure) / len(per_structure) < 1.1


def test_fixed_sigma_noise_std_and_sigma_high_normaliser():
    method = build_method("dens", p_dens=1.0, corrupt_ratio=1.0, sigma=0.05)
    batch = _batch(40)
    p = method.prepare(batch, _gen(3))
    eps = p.batch.pos - batch.pos
    assert abs(float(eps.std()) / 0.05 - 1.0) < 0.06
    assert torch.all(p.sigma == 0.05)
    high = build_method(
        "dens",
        p_dens=1.0,
        corrupt_ratio=1.0,
        multi_scale=True,
        sigma_high=0.5,
        noise_normalizer="sigma_high",
    )
    q = high.prepare(batch, _gen(3))
    torch.testing.assert_close(q.noise_target, (q.batch.pos - batch.pos) / 0.5)


@pytest.mark.parametrize("task_draw", ["structure", "batch"])
def test_mask_rates_match_p_and_r(task_draw):
    p_dens, ratio = 0.3, 0.4
    method = build_method("dens", p_dens=p_dens, corrupt_ratio=ratio, task_draw=task_draw)
    batch = _batch(10, fixed_every=5)
    free = ~batch.fixed
    gen = _gen(11)
    n_dens = n_struct = n_corrupt = n_candidates = 0
    for _ in range(400):
        p = method.prepare(batch, gen)
        if task_draw == "batch":
            assert p.dens_structure.all() or not p.dens_structure.any()
        n_dens += int(p.dens_structure.sum())
        n_struct += int(batch.num_graphs)
        candidates = p.dens_structure[batch.batch] & free
        assert not (p.noise_mask & ~candidates).any()  # only free atoms of DeNS structures
        n_corrupt += int(p.noise_mask.sum())
        n_candidates += int(candidates.sum())
    # binomial standard errors: structure draws (batch draws are 10x correlated)
    draws = n_struct if task_draw == "structure" else n_struct // 10
    assert abs(n_dens / n_struct - p_dens) < 4 * math.sqrt(p_dens * (1 - p_dens) / draws)
    assert abs(n_corrupt / n_candidates - ratio) < 4 * math.sqrt(ratio * (1 - ratio) / n_candidates)


def test_fixed_atoms_are_never_noised():
    batch = _batch(8, fixed_every=3)
    for name in ("dens", "noisy-nodes"):
        p = build_method(name, **({"p_dens": 1.0, "corrupt_ratio": 1.0} if name == "dens" else {}))
        prepared = p.prepare(batch, _gen())
        assert torch.equal(prepared.batch.pos[batch.fixed], batch.pos[batch.fixed])
        assert not prepared.noise_mask[batch.fixed].any()
        assert prepared.noise_mask[~batch.fixed].all()


def test_dens_encodes_raw_forces_exactly_on_corrupted_atoms_only():
    batch = _batch(12)
    p = build_method("dens", p_dens=0.5, corrupt_ratio=0.5).prepare(batch, _gen(5))
    enc, mask = p.batch[keys.ENCODED_FORCES], p.noise_mask
    assert 0 < int(mask.sum()) < batch.num_nodes
    assert torch.equal(enc[mask], batch.forces[mask])
    assert torch.count_nonzero(enc[~mask]) == 0
    moved = (p.batch.pos != batch.pos).any(dim=-1)
    assert torch.equal(moved, mask)


def test_kcal_encoding_is_the_ev_encoding_in_kcal_per_mol():
    """Only the encoded values change with encoded_force_unit: same draws, masks, targets."""
    batch = _batch(12)
    options = {"p_dens": 0.5, "corrupt_ratio": 0.5}
    ev = build_method("dens", **options).prepare(batch, _gen(3))
    kcal = build_method("dens", encoded_force_unit="kcal/mol/A", **options).prepare(batch, _gen(3))
    for field in ("noise_target", "noise_mask", "dens_structure", "sigma"):
        assert torch.equal(getattr(ev, field), getattr(kcal, field)), field
    assert torch.equal(ev.batch.pos, kcal.batch.pos)
    mask = kcal.noise_mask
    assert 0 < int(mask.sum())
    encoded = kcal.batch[keys.ENCODED_FORCES]
    torch.testing.assert_close(
        encoded[mask], batch.forces[mask] / KCAL_PER_MOL_TO_EV, rtol=1e-15, atol=0
    )
    assert torch.count_nonzero(kcal.batch[keys.ENCODED_FORCES][~mask]) == 0
    assert torch.equal(ev.batch[keys.ENCODED_FORCES][mask], batch.forces[mask])


def test_denoise_no_force_has_no_encoding_unit():
    with pytest.raises(ConfigError, match="encoded_force_unit"):
        build_method("denoise-no-force", encoded_force_unit="kcal/mol/A")


def test_denoise_no_force_is_dens_with_zero_encoding():
    batch = _batch(12)
    options = {"p_dens": 0.5, "corrupt_ratio": 0.5, "multi_scale": True, "sigma_high": 0.3}
    a = build_method("dens", **options).prepare(batch, _gen(9))
    b = build_method("denoise-no-force", **options).prepare(batch, _gen(9))
    for field in ("noise_target", "noise_mask", "dens_structure", "sigma"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert torch.equal(a.batch.pos, b.batch.pos)
    assert torch.count_nonzero(b.batch[keys.ENCODED_FORCES]) == 0
    assert torch.count_nonzero(a.batch[keys.ENCODED_FORCES]) > 0


def test_same_generator_state_gives_the_same_corruption():
    batch = _batch()
    method = build_method("dens", p_dens=0.5)
    a, b = method.prepare(batch, _gen(4)), method.prepare(batch, _gen(4))
    assert torch.equal(a.batch.pos, b.batch.pos) and torch.equal(a.noise_mask, b.noise_mask)


def test_noisy_nodes_noises_every_free_atom_without_encoding():
    batch = _batch(30, fixed_every=7)
    p = build_method("noisy-nodes", sigma=0.1).prepare(batch, _gen(2))
    free = ~batch.fixed
    eps = p.batch.pos - batch.pos
    assert keys.ENCODED_FORCES not in p.batch
    assert torch.equal(p.noise_mask, free) and p.dens_structure.all()
    assert abs(float(eps[free].std()) / 0.1 - 1.0) < 0.06
    torch.testing.assert_close(p.noise_target[free], eps[free] / 0.1)


def test_sigma_encoding_sets_the_per_atom_sigma_field():
    batch = _batch(6)
    p = build_method("dens", p_dens=0.5, encode_sigma=True).prepare(batch, _gen(1))
    torch.testing.assert_close(p.batch[keys.NOISE_SIGMA], p.sigma[batch.batch])
    q = build_method("dens", p_dens=0.5).prepare(batch, _gen(1))
    assert keys.NOISE_SIGMA not in q.batch


@pytest.mark.parametrize(
    "options, bad",
    [
        ({"p_dens": 1.5}, "1.5"),
        ({"corrupt_ratio": 0.0}, "0.0"),
        ({"sigma": -0.1}, "-0.1"),
        ({"multi_scale": True, "sigma_high": 0.005}, "0.005"),
        ({"task_draw": "atom"}, "atom"),
        ({"noise_normalizer": "max"}, "max"),
        ({"sigmaa": 0.1}, "sigmaa"),
        ({"encoded_force_unit": "kcal/mol"}, "kcal/mol"),
    ],
)
def test_bad_options_are_config_errors_showing_the_value(options, bad):
    with pytest.raises(ConfigError, match=bad):
        build_method("dens", **options)
