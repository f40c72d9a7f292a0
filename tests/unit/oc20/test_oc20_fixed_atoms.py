"""Fixed atoms (OC20 subsurface, FixAtoms) are never noised, carry no force loss and no force
metric, on the shipped frames; and one ci EquiformerV2 DeNS training step runs on them."""

from __future__ import annotations

import copy

import pytest
import torch

from bench.data.ase_files import read_ase_file
from bench.data.torch_data import collate
from bench.methods import build_method
from bench.methods.base import targets_from_batch
from bench.metrics import s2ef_metrics
from tests.unit.oc20.conftest import TRAJ

NOISY = {
    "dens": {"p_dens": 1.0, "corrupt_ratio": 1.0, "sigma": 0.3},
    "denoise-no-force": {"p_dens": 1.0, "corrupt_ratio": 1.0, "sigma": 0.3},
    "noisy-nodes": {"sigma": 0.3},
}


@pytest.fixture(scope="module")
def batch():
    return collate(read_ase_file(TRAJ)[:2], torch.float64)


@pytest.mark.parametrize("name", sorted(NOISY))
def test_fixed_atoms_never_noised(batch, name):
    method = build_method(name, **NOISY[name])
    fixed = batch.fixed
    assert fixed.sum() == 72  # 36 fixed atoms per frame
    for seed in range(3):
        prepared = method.prepare(batch, torch.Generator().manual_seed(seed))
        moved = (prepared.batch.pos != batch.pos).any(dim=-1)
        assert not moved[fixed].any() and not prepared.noise_mask[fixed].any()
        assert moved[~fixed].all() and prepared.noise_mask[~fixed].all()
        assert (prepared.noise_target[fixed] == 0).all()
        if "encoded_forces" in prepared.batch:
            assert (prepared.batch.encoded_forces[fixed] == 0).all()


@pytest.mark.parametrize("name", ["none", *sorted(NOISY)])
def test_fixed_atom_forces_carry_no_loss(batch, name):
    params = NOISY.get(name, {}) | (
        {"corrupt_ratio": 0.5} if "p_dens" in NOISY.get(name, {}) else {}
    )
    method = build_method(name, **params)
    prepared = method.prepare(batch, torch.Generator().manual_seed(0))
    targets = targets_from_batch(batch, 2.0, 0.5)
    n, b = batch.pos.shape[0], int(batch.num_graphs)
    out = {
        "energy": torch.zeros(b, dtype=torch.float64),
        "forces": torch.randn(n, 3).double(),
        "noise": torch.randn(n, 3).double(),
    }
    wild = copy.copy(out)
    wild["forces"] = torch.where(batch.fixed[:, None], 1e3, out["forces"])
    wild["noise"] = torch.where(batch.fixed[:, None], -1e3, out["noise"])
    a, w = method.loss(out, prepared, targets), method.loss(wild, prepared, targets)
    assert {k: float(v) for k, v in a.items()} == {k: float(v) for k, v in w.items()}
    assert float(a["force"]) > 0


def test_fixed_atom_forces_carry_no_metric(batch):
    pred = batch.forces + 0.01
    wild = torch.where(batch.fixed[:, None], 1e3, pred)
    args = (batch.energy, batch.energy, batch.forces, ~batch.fixed, batch.batch)
    good = s2ef_metrics(args[0], args[1], pred, *args[2:], periodic=True)
    bad = s2ef_metrics(args[0], args[1], wild, *args[2:], periodic=True)
    assert good == bad and good["efwt"] == 1.0
    assert good["force_mae_mev_per_a"] == pytest.approx(10.0)


def test_equiformer_v2_dens_training_step_on_oc20_frames():
    """One ci EquiformerV2 + DeNS step (direct forces) on the shipped periodic frames: finite
    energy, force and noise terms, and almost every weight tensor moves."""
    from bench.backbones.registry import build_backbone
    from bench.train.step import StepContext, train_step

    torch.manual_seed(0)
    batch = collate(read_ase_file(TRAJ)[:2], torch.float32)
    method = build_method(
        "dens",
        lambda_energy=2.0,
        lambda_force=100.0,
        p_dens=1.0,
        corrupt_ratio=0.5,
        sigma=0.1,
        lambda_dens=10.0,
    )
    model = build_backbone("equiformer-v2", "ci", "oc20", force_encoding=True, noise_head=True)
    model.set_normalization(float(batch.energy.mean()), 1.0, 1.0)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    result = train_step(
        model, method, batch, opt, StepContext(1.0, 1.0, torch.Generator().manual_seed(0))
    )
    assert all(torch.isfinite(torch.tensor(v)) for v in result.values())
    assert result["noise"] > 0 and result["force"] > 0
    changed = [not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True)]
    assert sum(changed) / len(changed) > 0.9
