"""Evaluation: predictions on a split without noise and without force encoding, metrics, and
re-evaluation of a finished run directory.

The forward batch carries only inputs (atomic numbers, positions, cell, pbc, fixed, tags): the
energy and force labels are removed before the model sees it, so test labels can never leak
into predictions (a model with a force encoder gets no ``encoded_forces`` field at all).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Batch, Data

from bench.data import keys
from bench.metrics import s2ef_metrics

#: batch fields that are labels (never shown to the model at evaluation)
LABEL_FIELDS = (keys.ENERGY, keys.FORCES, keys.ENCODED_FORCES, keys.NOISE_SIGMA)
SPLITS = ("train", "val", "test")


def inputs_only(batch: Batch) -> Batch:
    """A shallow copy of ``batch`` without energy/force labels or DeNS inputs."""
    out = copy.copy(batch)
    for name in LABEL_FIELDS:
        if name in out:
            del out[name]
    return out


def predict(
    model: nn.Module, data: Sequence[Data], batch_size: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Predictions and labels for ``data``, concatenated on CPU.

    Returns ``energy_pred``/``energy_true`` [B] (eV), ``forces_pred``/``forces_true`` [N, 3]
    (eV/Angstrom), ``free`` [N] bool and ``structure`` [N] (index into ``data``).
    """
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in (
        "energy_pred", "energy_true", "forces_pred", "forces_true", "free", "structure")}
    for start in range(0, len(data), batch_size):
        batch = Batch.from_data_list(list(data[start:start + batch_size])).to(device)
        with torch.no_grad():
            out = model(inputs_only(batch))
        parts["energy_pred"].append(out[keys.OUT_ENERGY].detach().cpu())
        parts["forces_pred"].append(out[keys.OUT_FORCES].detach().cpu())
        parts["energy_true"].append(batch.energy.cpu())
        parts["forces_true"].append(batch.forces.cpu())
        parts["free"].append(~batch.fixed.cpu())
        parts["structure"].append(batch.batch.cpu() + start)
    return {k: torch.cat(v) for k, v in parts.items()}


def evaluate(
    model: nn.Module, data: Sequence[Data], batch_size: int, device: torch.device, periodic: bool
) -> dict[str, float]:
    """S2EF metrics (bench.metrics) of ``model`` on ``data``; empty dict for empty data."""
    if len(data) == 0:
        return {}
    p = predict(model, data, batch_size, device)
    return s2ef_metrics(p["energy_pred"], p["energy_true"], p["forces_pred"], p["forces_true"],
                        p["free"], p["structure"], periodic)


def evaluate_run(run_dir: str | Path, split: str = "test", data_root: str | None = None,
                 device: str = "cpu") -> dict[str, Any]:
    """Re-evaluate the final (EMA when enabled) weights of a finished run on ``split``.

    Returns ``{"run_id", "split", "metrics": {...}}``; the data is reloaded from the run's
    config (``data_root`` replaces the recorded one), normalisation comes from the weights.
    """
    from bench.train.setup import load_run_model, load_split, to_data_list

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    model, cfg = load_run_model(run_dir, device)
    if data_root is not None:
        cfg.data.data_root = str(data_root)
    splits = load_split(cfg.data)
    data = to_data_list(getattr(splits, split), cfg.dtype)
    metrics = evaluate(model, data, cfg.train.eval_batch_size, torch.device(device),
                       splits.periodic)
    return {"run_id": cfg.run_id, "split": split, "metrics": metrics}
