"""Evaluation: predictions on a split without noise and without force encoding, metrics, and
re-evaluation of a finished run directory.

The forward batch carries only inputs (atomic numbers, positions, cell, pbc, fixed, tags): the
energy and force labels are removed before the model sees it, so test labels can never leak
into predictions (a model with a force encoder gets no ``encoded_forces`` field at all).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Batch, Data

from bench.data import keys
from bench.errors import DataError
from bench.metrics import s2ef_metrics
from bench.progress import ProgressDisplay, format_seconds

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


@dataclass(frozen=True)
class Predictions:
    """Predictions and labels of a split, on CPU.

    Attributes:
        energy_pred, energy_true: [B] eV. forces_pred, forces_true: [N, 3] eV/Angstrom.
        free: [N] bool, atoms not held fixed. structure: [N] long, index of each atom's
            structure (0..B-1, atoms ordered by structure).
    """

    energy_pred: torch.Tensor
    energy_true: torch.Tensor
    forces_pred: torch.Tensor
    forces_true: torch.Tensor
    free: torch.Tensor
    structure: torch.Tensor

    def subset(self, structures: torch.Tensor | Sequence[int]) -> Predictions:
        """The predictions of ``structures`` (a bool mask [B] or indices in increasing order),
        structures re-indexed 0..k-1."""
        rows = torch.as_tensor(structures)
        if rows.dtype == torch.bool:
            rows = rows.nonzero()[:, 0]
        rows = rows.long()
        new_index = torch.full((self.energy_true.numel(),), -1, dtype=torch.long)
        new_index[rows] = torch.arange(len(rows))
        atoms = new_index[self.structure] >= 0
        return Predictions(
            energy_pred=self.energy_pred[rows],
            energy_true=self.energy_true[rows],
            forces_pred=self.forces_pred[atoms],
            forces_true=self.forces_true[atoms],
            free=self.free[atoms],
            structure=new_index[self.structure[atoms]],
        )

    def metrics(self, periodic: bool) -> dict[str, float]:
        """S2EF metrics (bench.metrics.s2ef_metrics)."""
        return s2ef_metrics(
            self.energy_pred,
            self.energy_true,
            self.forces_pred,
            self.forces_true,
            self.free,
            self.structure,
            periodic,
        )


def predict(
    model: nn.Module,
    data: Sequence[Data],
    batch_size: int,
    device: torch.device,
    name: str | None = None,
) -> Predictions:
    """:class:`Predictions` and labels for ``data``, concatenated on CPU (``structure``
    indexes ``data``). With ``name``, progress goes to stderr (bench.progress: a bar, or about
    ten plain lines).
    """
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {f.name: [] for f in fields(Predictions)}
    with ProgressDisplay(name or "eval", len(data), show=name is not None) as bar:
        for start in range(0, len(data), batch_size):
            _predict_batch(model, data[start : start + batch_size], start, device, parts)
            bar.update(min(batch_size, len(data) - start))
            if _tenth(start, batch_size, len(data)):
                bar.line(f"{bar.done}/{len(data)} structures, ETA {format_seconds(bar.eta_s())}")
    return Predictions(**{k: torch.cat(v) for k, v in parts.items()})


def _tenth(start: int, batch_size: int, n: int) -> bool:
    """True when the batch starting at ``start`` completes another tenth of ``n``."""
    end = min(start + batch_size, n)
    return end == n or (10 * end) // n > (10 * start) // n


def _predict_batch(
    model: nn.Module,
    items: Sequence[Data],
    start: int,
    device: torch.device,
    parts: dict[str, list[torch.Tensor]],
) -> None:
    """Append the predictions and labels of ``items`` (structures ``start``...) to ``parts``."""
    batch = Batch.from_data_list(list(items)).to(device)
    with torch.no_grad():
        out = model(inputs_only(batch))
    parts["energy_pred"].append(out[keys.OUT_ENERGY].detach().cpu())
    parts["forces_pred"].append(out[keys.OUT_FORCES].detach().cpu())
    parts["energy_true"].append(batch.energy.cpu())
    parts["forces_true"].append(batch.forces.cpu())
    parts["free"].append(~batch.fixed.cpu())
    parts["structure"].append(batch.batch.cpu() + start)


def evaluate(
    model: nn.Module, data: Sequence[Data], batch_size: int, device: torch.device, periodic: bool
) -> dict[str, float]:
    """S2EF metrics (bench.metrics) of ``model`` on ``data``; empty dict for empty data."""
    if len(data) == 0:
        return {}
    return predict(model, data, batch_size, device).metrics(periodic)


def split_metrics(
    model: nn.Module,
    data: Sequence[Data],
    subsplits: Sequence[str | None],
    batch_size: int,
    device: torch.device,
    periodic: bool,
    split: str,
) -> dict[str, dict[str, float]]:
    """``{split: metrics}`` over all of ``data``, plus ``{"<split>/<name>": metrics}`` for each
    OC20/OC22 sub-split (bench.data.oc20_subsplits.SUBSPLITS) named in ``subsplits``
    ([len(data)], None when unknown) and, when the four OC20 sub-splits are all present,
    ``"<split>/average"``: the mean of their metrics as the paper reports (``n_structures``:
    their sum). One forward pass; empty dict for empty data.
    """
    if len(data) == 0:
        return {}
    p = predict(model, data, batch_size, device, f"eval {split}")
    return subsplit_metrics(p, subsplits, periodic, split)


def subsplit_metrics(
    p: Predictions, subsplits: Sequence[str | None], periodic: bool, split: str
) -> dict[str, dict[str, float]]:
    """:func:`split_metrics` of the predictions ``p`` (:func:`predict`)."""
    from bench.data.oc20_subsplits import OC20_SUBSPLITS, SUBSPLITS

    out = {split: p.metrics(periodic)}
    for name in SUBSPLITS:
        idx = [i for i, sub in enumerate(subsplits) if sub == name]
        if idx:
            out[f"{split}/{name}"] = p.subset(idx).metrics(periodic)
    parts = [out.get(f"{split}/{name}") for name in OC20_SUBSPLITS]
    if all(parts):
        out[f"{split}/average"] = {
            k: (sum if k == "n_structures" else _mean)([m[k] for m in parts]) for k in parts[0]
        }
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def evaluate_run(
    run_dir: str | Path, split: str = "test", data_root: str | None = None, device: str = "cpu"
) -> dict[str, Any]:
    """Re-evaluate the final (EMA when enabled) weights of a finished run on ``split``.

    Returns ``{"run_id", "split", "metrics": {...}}`` plus ``"subsplits": {name: {...}}`` when
    OC20 sub-splits are known (:func:`split_metrics`); the data is reloaded from the run's
    config (``data_root`` replaces the recorded one), normalisation comes from the weights.
    The predictions are written to ``<run_dir>/predictions.npz`` (bench.eval_file); for a run
    that ``bench import`` wrote, the metrics also go to its record (bench.imports.evaluated;
    ``"written"`` lists both files).
    """
    from bench.data.oc20_subsplits import subsplit_of
    from bench.eval_file import write_predictions
    from bench.imports.evaluated import record_evaluation
    from bench.records import PREDICTIONS_FILE
    from bench.train.setup import load_run_model, load_split, to_data_list

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    model, cfg = load_run_model(run_dir, device)
    if data_root is not None:
        cfg.data.data_root = str(data_root)
    splits = load_split(cfg.data, need=(split,))
    structures = getattr(splits, split)
    if not structures:
        raise DataError(None, split, f"the {split} split of run {cfg.run_id!r} is empty")
    data = to_data_list(structures, cfg.dtype)
    p = predict(model, data, cfg.train.eval_batch_size, torch.device(device), f"eval {split}")
    results = subsplit_metrics(p, [subsplit_of(s) for s in structures], splits.periodic, split)
    written = [write_predictions(Path(run_dir) / PREDICTIONS_FILE, p, structures, f"{split} split")]
    record = record_evaluation(run_dir, split, results, _data_evaluated(cfg.data, splits, data))
    out = {"run_id": cfg.run_id, "split": split, "metrics": results.pop(split, {})}
    if record is not None:
        out["written"] = [str(w) for w in (*written, record)]
    if results:
        out["subsplits"] = {k.split("/", 1)[1]: v for k, v in results.items()}
    return out


def _data_evaluated(data_cfg, splits, data: Sequence[Data]) -> dict[str, Any]:
    """What an imported run was evaluated on (bench.imports.evaluated)."""
    return {
        "dataset": data_cfg.name,
        "data_root": data_cfg.data_root,
        "path": data_cfg.path,
        "max_structures": data_cfg.max_structures,
        "n_structures": len(data),
        "sources": dict(splits.sources),
    }
