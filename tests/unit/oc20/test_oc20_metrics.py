"""S2EF metrics as the OC20 evaluator defines them, on a hand-computed two-structure fixture.

Structure A (2 atoms): atom 0 FIXED with a huge force error (must be ignored everywhere),
atom 1 free. Structure B (3 free atoms). Energies eV, forces eV/Angstrom.

  energy errors: A 0.01, B 0.5                       -> energy MAE 0.255 eV = 255 meV
  free-atom |dF| components: A1 (0.02, 0, 0), B0 (0, 1, 0), B1 (0, 0, 2), B2 (1, 1, 0)
                                                      -> sum 5.02 / 12 = 0.418333 eV/A
  cosines: A1 1, B0 1, B1 -1, B2 (4*3 + 3*4) / (5*5) = 0.96  -> mean 0.49
  | |F_pred| - |F_true| |: A1 0.02, B0 1, B1 0, B2 0   -> mean 0.255 eV/A
  EFwT (per structure): A |dE| 0.01 < 0.02 and max|dF| 0.02 < 0.03 -> yes; B no -> 0.5
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.data.structure import Structure
from bench.data.torch_data import to_data
from bench.eval import evaluate
from bench.metrics import s2ef_metrics

E_TRUE, E_PRED = [1.0, -2.0], [1.01, -2.5]
F_TRUE = [[[1, 1, 1], [1, 0, 0]], [[0, 2, 0], [0, 0, 1], [3, 4, 0]]]
F_PRED = [[[100, -50, 3], [1.02, 0, 0]], [[0, 1, 0], [0, 0, -1], [4, 3, 0]]]
FIXED = [[True, False], [False, False, False]]
EXPECTED = {
    "energy_mae_mev": 255.0,
    "force_mae_mev_per_a": 5020.0 / 12,
    "force_cos": 0.49,
    "force_magnitude_mae_mev_per_a": 255.0,
    "efwt": 0.5,
    "n_structures": 2,
}


def _tensors(f_pred=F_PRED, e_pred=E_PRED):
    cat = lambda rows: torch.tensor([r for s in rows for r in s], dtype=torch.float64)  # noqa: E731
    structure = torch.tensor([b for b, s in enumerate(F_TRUE) for _ in s])
    free = ~torch.tensor([f for s in FIXED for f in s])
    return (
        torch.tensor(e_pred, dtype=torch.float64),
        torch.tensor(E_TRUE, dtype=torch.float64),
        cat(f_pred),
        cat(F_TRUE),
        free,
        structure,
    )


def test_hand_computed_values():
    assert s2ef_metrics(*_tensors(), periodic=True) == pytest.approx(EXPECTED, rel=1e-12)


def test_molecules_get_only_energy_and_force_mae():
    out = s2ef_metrics(*_tensors(), periodic=False)
    assert set(out) == {"energy_mae_mev", "force_mae_mev_per_a", "n_structures"}


@pytest.mark.parametrize(
    ("which", "value", "efwt"),
    [
        ("force", 0.031, 0.0),  # A's free-atom error just above 0.03 eV/A -> A fails too
        ("force", 0.029, 0.5),
        ("energy", 1.021, 0.0),  # A's energy error just above 0.02 eV -> fails
        ("energy", 1.019, 0.5),
    ],
)
def test_efwt_thresholds(which, value, efwt):
    f_pred = [[list(F_PRED[0][0]), [1.0 + value, 0, 0]], F_PRED[1]] if which == "force" else F_PRED
    e_pred = [value, E_PRED[1]] if which == "energy" else E_PRED
    assert s2ef_metrics(*_tensors(f_pred, e_pred), periodic=True)["efwt"] == efwt


class _Table(nn.Module):
    """A fake model returning the fixture's predictions for the structures of a batch."""

    def forward(self, batch):
        idx = [int(sid) for sid in batch.sid]
        energy = torch.tensor([E_PRED[i] for i in idx], dtype=torch.float64)
        forces = torch.tensor([r for i in idx for r in F_PRED[i]], dtype=torch.float64)
        return {"energy": energy, "forces": forces}


def _fixture_data():
    """The two fixture structures as PyG Data (ids "0", "1" index the fake model's table)."""
    data = []
    for b in range(2):
        n = len(F_TRUE[b])
        data.append(
            to_data(
                Structure(
                    z=np.full(n, 29),
                    pos=np.arange(3.0 * n).reshape(n, 3),
                    energy=E_TRUE[b],
                    forces=np.array(F_TRUE[b], dtype=float),
                    id=str(b),
                    cell=10 * np.eye(3),
                    pbc=np.ones(3, bool),
                    fixed=np.array(FIXED[b]),
                ),
                torch.float64,
            )
        )
    return data


@pytest.mark.parametrize("batch_size", [1, 2])
def test_evaluate_matches_hand_values_whatever_the_batching(batch_size):
    out = evaluate(_Table(), _fixture_data(), batch_size, torch.device("cpu"), periodic=True)
    assert out == pytest.approx(EXPECTED, rel=1e-12)


def test_per_subsplit_metrics_and_their_average():
    """Structures A, B, A, B labelled id, ood_ads, ood_cat, ood_both. By hand, A alone: energy
    10 meV, force MAE 0.02/3 eV/A, cos 1, magnitude 20 meV/A, EFwT 1; B alone: 500 meV,
    5/9 eV/A, cos 0.32, magnitude 1/3 eV/A, EFwT 0. The average is the mean of the four."""
    from bench.eval import split_metrics

    data = [d for _ in range(2) for d in _fixture_data()]
    out = split_metrics(
        _Table(),
        data,
        ["id", "ood_ads", "ood_cat", "ood_both"],
        3,
        torch.device("cpu"),
        True,
        "val",
    )
    a = {
        "energy_mae_mev": 10.0,
        "force_mae_mev_per_a": 20.0 / 3,
        "force_cos": 1.0,
        "force_magnitude_mae_mev_per_a": 20.0,
        "efwt": 1.0,
        "n_structures": 1,
    }
    b = {
        "energy_mae_mev": 500.0,
        "force_mae_mev_per_a": 5000.0 / 9,
        "force_cos": 0.32,
        "force_magnitude_mae_mev_per_a": 1000.0 / 3,
        "efwt": 0.0,
        "n_structures": 1,
    }
    assert out["val/id"] == pytest.approx(a) and out["val/ood_cat"] == pytest.approx(a)
    assert out["val/ood_ads"] == pytest.approx(b) and out["val/ood_both"] == pytest.approx(b)
    mean = {k: (a[k] + b[k]) / 2 for k in a} | {"n_structures": 4}
    assert out["val/average"] == pytest.approx(mean)
    assert out["val"] == pytest.approx(EXPECTED | {"n_structures": 4})


def test_no_subsplit_entries_when_names_are_unknown():
    from bench.eval import split_metrics

    out = split_metrics(
        _Table(), _fixture_data(), [None, "id"], 2, torch.device("cpu"), True, "test"
    )
    assert set(out) == {"test", "test/id"}
    assert out["test/id"]["energy_mae_mev"] == pytest.approx(500.0)
