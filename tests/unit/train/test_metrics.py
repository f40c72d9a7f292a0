"""bench.metrics against hand-computed values on two structures (one fixed atom)."""

from __future__ import annotations

import pytest
import torch

from bench.metrics import s2ef_metrics


def test_s2ef_metrics_by_hand():
    e_true = torch.tensor([1.0, 2.0])
    e_pred = torch.tensor([1.01, 2.5])  # errors 0.01, 0.5 eV
    f_true = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [5, 5, 5]])
    f_pred = torch.tensor([[1.02, 0, 0], [0, 1, 0], [0, 0, 2], [-1, -1, 0], [0, 0, 0]])
    free = torch.tensor([True, True, True, True, False])
    structure = torch.tensor([0, 0, 1, 1, 1])
    m = s2ef_metrics(e_pred, e_true, f_pred, f_true, free, structure, periodic=True)
    assert m["energy_mae_mev"] == pytest.approx(255.0, rel=1e-5)
    assert m["force_mae_mev_per_a"] == pytest.approx(5020.0 / 12, rel=1e-5)  # free atoms only
    assert m["force_cos"] == pytest.approx(0.5)  # 1, 1, 1, -1
    assert m["force_magnitude_mae_mev_per_a"] == pytest.approx(255.0, rel=1e-5)
    assert m["efwt"] == pytest.approx(0.5)  # structure 0 within 20 meV and 30 meV/A
    assert m["n_structures"] == 2
    molecular = s2ef_metrics(e_pred, e_true, f_pred, f_true, free, structure, periodic=False)
    assert set(molecular) == {"energy_mae_mev", "force_mae_mev_per_a", "n_structures"}
