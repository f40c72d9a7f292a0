"""Figures from run directories (matplotlib, no display needed; written atomically as PNG).

- ``learning-curves``: validation force MAE (failing that, train force MAE or loss) vs epoch
  from each run's ``log.jsonl``; one line per run, coloured by method.
- ``parity``: predicted vs true force components from ``predictions.npz`` in a run directory:
  ``forces_pred`` and ``forces_true``, float arrays [N, 3] in eV/Angstrom over the test atoms
  (written by the evaluation; optional ``energy_pred``/``energy_true`` [B] in eV are not used).
- ``sample-efficiency``: test force MAE (meV/Angstrom, mean ± std over seeds) vs number of
  training structures (``RunRecord.scale["n_train"]``, else ``data.n_train``), one line per
  backbone, method, dataset and molecule; log-log axes.
"""

from __future__ import annotations

import io
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bench.errors import ConfigError, DataError
from bench.io import write_bytes_atomic
from bench.reports.runs import MISSING, Run, iter_log

PLOTS = ("learning-curves", "parity", "sample-efficiency")
PREDICTIONS_FILE = "predictions.npz"
#: log.jsonl keys tried in order, as ``<split>/<name>`` for lines with a ``split`` field (the
#: training loop logs ``{"step", "epoch", "split": "train" | "val", <name>: value, ...}``);
#: the first one any run logs is plotted for every run that logs it
CURVE_KEYS = ("val/force_mae_mev_per_a", "train/force_mae_mev_per_a", "train/loss")
METHOD_COLORS = {"none": "C0", "noisy-nodes": "C1", "denoise-no-force": "C2", "dens": "C3"}


def make_plot(kind: str, runs: list[Run], output: str | Path) -> Path:
    """Draw plot ``kind`` (one of PLOTS) of ``runs`` into the PNG file ``output``."""
    if kind not in PLOTS:
        raise ConfigError(f"unknown plot {kind!r}; known: {', '.join(PLOTS)}")
    draw = {"learning-curves": learning_curves, "parity": parity,
            "sample-efficiency": sample_efficiency}[kind]
    fig = draw(runs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return write_bytes_atomic(output, buf.getvalue())


def _method(run: Run) -> str:
    value = run.value("method")
    return "?" if value is MISSING else str(value)


def _by_split(line: dict) -> dict:
    """A log line with its values keyed ``<split>/<name>`` (``step``/``epoch`` kept as they are)."""
    split = line.get("split")
    if split is None:
        return dict(line)
    return {k if k in ("step", "epoch") else f"{split}/{k}": v for k, v in line.items()
            if k != "split"}


def learning_curves(runs: list[Run]) -> Figure:
    """Force MAE (or loss) vs epoch (or step) of every run with a ``log.jsonl``."""
    logs = {run.name: (run, [_by_split(line) for line in iter_log(run)]) for run in runs}
    key = next((k for k in CURVE_KEYS for _, lines in logs.values()
                if any(k in line for line in lines)), None)
    if key is None:
        raise DataError(None, None, f"no run has a log.jsonl with any of {', '.join(CURVE_KEYS)}")
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    xlabel = "epoch"
    for name, (run, lines) in sorted(logs.items()):
        points = [line for line in lines if key in line]
        if not points:
            continue
        xlabel = "epoch" if all("epoch" in p for p in points) else "step"
        ax.plot([p[xlabel] for p in points], [p[key] for p in points], marker="o",
                color=METHOD_COLORS.get(_method(run)), label=f"{name} ({_method(run)})")
    ax.set(xlabel=xlabel, ylabel=key, title="Learning curves")
    ax.legend(fontsize=7)
    return fig


def parity(runs: list[Run]) -> Figure:
    """Predicted vs true force components of every run with ``predictions.npz``."""
    found = [(run, _predictions(run)) for run in runs if (run.run_dir / PREDICTIONS_FILE).is_file()]
    if not found:
        raise DataError(None, None, f"no run has {PREDICTIONS_FILE} (forces_pred, forces_true "
                        "[N, 3] eV/Angstrom, written by the evaluation)")
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    low = min(float(true.min()) for _, (_, true) in found)
    high = max(float(true.max()) for _, (_, true) in found)
    ax.plot([low, high], [low, high], color="k", lw=0.8)
    for run, (pred, true) in found:
        mae = float(np.abs(pred - true).mean()) * 1000.0
        ax.scatter(true.ravel(), pred.ravel(), s=4, alpha=0.5,
                   color=METHOD_COLORS.get(_method(run)),
                   label=f"{run.name} ({_method(run)}), component MAE {mae:.1f} meV/Å")
    ax.set(xlabel="true force component (eV/Å)", ylabel="predicted (eV/Å)", title="Force parity")
    ax.legend(fontsize=7)
    return fig


def _predictions(run: Run) -> tuple[np.ndarray, np.ndarray]:
    path = run.run_dir / PREDICTIONS_FILE
    with np.load(path) as data:
        arrays = []
        for key in ("forces_pred", "forces_true"):
            if key not in data:
                raise DataError(path, key, "missing array")
            arrays.append(np.asarray(data[key], dtype=float))
    pred, true = arrays
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] != 3:
        raise DataError(path, "forces_pred", f"expected two [N, 3] arrays, got {pred.shape} "
                        f"and {true.shape}")
    return pred, true


def sample_efficiency(runs: list[Run]) -> Figure:
    """Test force MAE vs number of training structures; runs that differ in anything but
    n_train and seed (backbone, method, data, lmax, variant, preset, epochs) are separate lines."""
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        n_train = run.record.scale.get("n_train", run.value("n_train"))
        mae = run.metric("test", "force_mae_mev_per_a")
        if n_train in (None, MISSING) or mae is None:
            continue
        curves[_curve_label(run)][int(n_train)].append(mae)
    if not curves:
        raise DataError(None, None, "no run records both n_train and a test force MAE")
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for label, points in sorted(curves.items()):
        sizes = sorted(points)
        means = [statistics.fmean(points[n]) for n in sizes]
        stds = [statistics.stdev(points[n]) if len(points[n]) > 1 else 0.0 for n in sizes]
        ax.errorbar(sizes, means, yerr=stds, marker="o", capsize=3, label=label)
    ax.set(xscale="log", yscale="log", xlabel="training structures",
           ylabel="test force MAE (meV/Å)", title="Sample efficiency")
    ax.legend(fontsize=7)
    return fig


def _curve_label(run: Run) -> str:
    """``backbone / method / dataset / molecule (lmax L, variant V) [preset P, E epochs]``."""
    def known(key: str) -> bool:
        return run.value(key) not in (None, MISSING)

    label = " / ".join(str(run.value(k)) for k in ("backbone", "method", "dataset", "molecule")
                       if known(k))
    extra = [f"{k} {run.value(k)}" for k in ("lmax", "variant") if known(k)]
    scale = run.record.scale
    return (label + (f" ({', '.join(extra)})" if extra else "")
            + f" [preset {scale.get('preset', run.value('preset'))}, "
            + f"{scale.get('epochs', run.value('epochs'))} epochs]")
