"""bench/methods/dens.py with ``atom_mean: pooled`` equals the released OC20 DeNS trainer's loss.

tests/data/parity/dens_oc20_loss.npz holds a fixed denoising batch (two shipped OC20 frames,
fixed noise, corruption mask and predictions) and the reference loss terms computed with the
released trainer's own hybrid-loss function (tools/parity/fairchem_dens_loss.py wrote it; the
.json names commit, config and command).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data import keys
from bench.methods.base import Prepared, Targets
from bench.methods.dens import DeNS, DeNSConfig

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "parity" / "dens_oc20_loss"


@pytest.fixture(scope="module")
def case():
    arrays = {k: torch.as_tensor(v) for k, v in np.load(FIXTURE.with_suffix(".npz")).items()}
    return arrays, json.loads(FIXTURE.with_suffix(".json").read_text())["config"]


def _terms(case, atom_mean: str) -> dict[str, torch.Tensor]:
    """Our loss terms on the fixture batch (outputs de-normalised, as backbones return them)."""
    a, c = case
    fixed, corrupted = a["fixed"].bool(), a["noise_mask"].bool()
    mask = corrupted & ~fixed  # dens-bench never counts fixed atoms as corrupted
    config = DeNSConfig(
        sigma=c["std"],
        corrupt_ratio=c["corrupt_ratio"],
        lambda_dens=c["denoising_pos_coefficient"],
        atom_mean=atom_mean,
    )
    method = DeNS(config, c["energy_coefficient"], c["force_coefficient"])
    outputs = {
        keys.OUT_ENERGY: a["pred_energy"] * c["energy_std"] + c["energy_mean"],
        keys.OUT_FORCES: a["pred_forces"] * c["force_std"],
        keys.OUT_NOISE: a["pred_noise"],
    }
    prepared = Prepared(
        None,
        torch.where(mask[:, None], a["noise_vec"] / c["std"], 0.0),
        mask,
        torch.ones(2, dtype=torch.bool),
        torch.full((2,), c["std"]),
        force_mask=~fixed & ~mask,
    )
    targets = Targets(a["energy"], a["forces"], c["energy_std"], c["force_std"])
    return method.loss(outputs, prepared, targets)


def test_pooled_equals_released_oc20_loss(case):
    arrays, _ = case
    terms = _terms(case, "pooled")
    assert float(terms["energy"]) == pytest.approx(float(arrays["loss_energy"]), rel=1e-12)
    hybrid = float(terms["force"] + terms["noise"])
    assert hybrid == pytest.approx(float(arrays["loss_forces_and_noise"]), rel=1e-12)


def test_per_term_means_differ_from_the_released_loss(case):
    """The spec's two separate means are another loss: the profiles must choose."""
    arrays, _ = case
    terms = _terms(case, "per-term")
    hybrid = float(terms["force"] + terms["noise"])
    assert abs(hybrid - float(arrays["loss_forces_and_noise"])) > 1e-3 * hybrid


def test_unknown_atom_mean_rejected():
    with pytest.raises(ValueError, match="atom_mean must be one of"):
        DeNSConfig(atom_mean="mean")
