"""Evaluation never sees labels: shuffled test forces leave predictions unchanged."""

from __future__ import annotations

import json

import torch

from bench.eval import LABEL_FIELDS, evaluate_run, inputs_only, predict
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
    assert model.dens
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
    assert torch.equal(a["energy_pred"], b["energy_pred"])
    assert torch.equal(a["forces_pred"], b["forces_pred"])
    assert not torch.equal(a["forces_true"], b["forces_true"])


def test_evaluate_run_reproduces_the_recorded_test_metrics(trained_run):
    recorded = json.loads((trained_run / "metrics.json").read_text())["metrics"]["test"]
    again = evaluate_run(trained_run, "test")["metrics"]
    assert again == recorded
