"""Evaluation never sees labels: shuffled test forces leave predictions unchanged."""

from __future__ import annotations

import json

import torch

from bench.eval import LABEL_FIELDS, Predictions, evaluate_run, inputs_only, predict
from bench.train.setup import load_run_model, load_split, to_data_list


def test_inputs_only_strips_every_label(trained_run):
    model, cfg = load_run_model(trained_run)
    data = to_data_list(load_split(cfg.data).test[:2], cfg.dtype)
    from torch_geometric.data import Batch

    batch = Batch.from_data_list(data)
    batch.encoded_forces = batch.forces.clone()
    stripped = inputs_only(batch)
    assert not any(name in stripped for name in LABEL_FIELDS)
    assert "forces" in batch and "encoded_forces" in batch  # input untouched


def test_shuffled_test_forces_do_not_change_predictions(trained_run):
    """A DeNS model (with a force encoder) evaluated with permuted and rescaled test force
    labels predicts exactly the same energies and forces."""
    model, cfg = load_run_model(trained_run)
    assert model.capabilities.force_encoding
    data = to_data_list(load_split(cfg.data).test, cfg.dtype)
    gen = torch.Generator().manual_seed(0)
    shuffled = []
    for d in data:
        s = d.clone()
        s.forces = 3.0 * d.forces[torch.randperm(d.num_nodes, generator=gen)].flip(-1)
        s.energy = d.energy + 1.0
        shuffled.append(s)
    a = predict(model, data, 4, torch.device("cpu"))
    b = predict(model, shuffled, 4, torch.device("cpu"))
    assert torch.equal(a.energy_pred, b.energy_pred)
    assert torch.equal(a.forces_pred, b.forces_pred)
    assert not torch.equal(a.forces_true, b.forces_true)


def test_evaluate_run_reproduces_the_recorded_test_metrics(trained_run):
    recorded = json.loads((trained_run / "metrics.json").read_text())["metrics"]["test"]
    again = evaluate_run(trained_run, "test")["metrics"]
    assert again == recorded


def _predictions() -> Predictions:
    """Three structures of 2, 1 and 3 atoms; atom k has forces (k, k, k)."""
    structure = torch.tensor([0, 0, 1, 2, 2, 2])
    forces = torch.arange(6.0)[:, None].expand(6, 3)
    return Predictions(
        energy_pred=torch.tensor([1.0, 2.0, 3.0]),
        energy_true=torch.tensor([1.5, 2.5, 3.5]),
        forces_pred=forces,
        forces_true=forces + 1,
        free=torch.tensor([True, False, True, True, True, False]),
        structure=structure,
    )


def test_predictions_subset_keeps_the_atoms_of_the_chosen_structures_reindexed():
    p = _predictions()
    sub = p.subset([0, 2])
    assert sub.energy_pred.tolist() == [1.0, 3.0] and sub.energy_true.tolist() == [1.5, 3.5]
    assert sub.forces_pred[:, 0].tolist() == [0.0, 1.0, 3.0, 4.0, 5.0]
    assert sub.free.tolist() == [True, False, True, True, False]
    assert sub.structure.tolist() == [0, 0, 1, 1, 1]
    by_mask = p.subset(torch.tensor([True, False, True]))
    assert all(torch.equal(getattr(by_mask, f), getattr(sub, f)) for f in vars(sub))


def test_predictions_metrics_of_a_subset_equal_those_of_its_structures_alone():
    p = _predictions()
    alone = Predictions(
        p.energy_pred[1:2],
        p.energy_true[1:2],
        p.forces_pred[2:3],
        p.forces_true[2:3],
        p.free[2:3],
        torch.zeros(1, dtype=torch.long),
    )
    assert p.subset([1]).metrics(periodic=False) == alone.metrics(periodic=False)
