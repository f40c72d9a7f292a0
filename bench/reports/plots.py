"""Figures from run directories (matplotlib, no display needed; written atomically).

The output's extension picks the format: ``.png`` (300 dpi), ``.pdf`` or ``.svg``. Lines and
points are labelled by backbone and method (colour: method; line style: backbone).

- ``learning-curves``: validation force MAE (meV/Angstrom, log axis) vs epoch from each run's
  ``log.jsonl`` (the lines the training loop logs with ``"split": "val"``; the total loss is
  not plotted: for DeNS it includes the noise term). When the runs drawn differ in scale
  (training structures, budget, preset), the marker tells the scales apart and each label
  names its run's.
- ``parity``: predicted vs true force components (eV/Angstrom), one panel per method, from
  ``predictions.npz`` in each run directory (written by ``bench eval``, bench.eval_file):
  ``forces_pred`` and ``forces_true`` [N, 3]; with ``free`` [N] only free atoms are drawn.
- ``sample-efficiency``: test force MAE (meV/Angstrom, mean ± std over seeds) vs number of
  training structures (``RunRecord.scale["n_train"]``, else ``data.n_train``); one line per
  backbone, method, dataset, molecule and training budget (epochs for epoch-bounded runs,
  else optimiser steps); log-log axes. Where a paper table (:data:`PAPER_TABLES`) has the
  line's configuration, its test force MAE is drawn as an open marker at the paper's number
  of training structures (:data:`PAPER_N_TRAIN`), profile ``paper-v1``: the full-scale point
  the line would reach.
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
from bench.records import PREDICTIONS_FILE
from bench.reports.match import match_run
from bench.reports.paper import load_table, paper_value
from bench.reports.runs import MISSING, Run, iter_log
from bench.reports.summary import GROUP_DEFAULTS

PLOTS = ("learning-curves", "parity", "sample-efficiency")
FORMATS = ("png", "pdf", "svg")
PNG_DPI = 300  # raster resolution (PNG); PDF and SVG are vector
#: the learning-curve value, as ``<split>/<name>`` (the training loop logs
#: ``{"step", "epoch", "split": "train" | "val", <name>: value, ...}``)
CURVE_KEY = "val/force_mae_mev_per_a"
METHOD_COLORS = {"none": "C0", "noisy-nodes": "C1", "denoise-no-force": "C2", "dens": "C3"}
BACKBONE_STYLES = {
    "equiformer": "-",
    "equiformer-v2": "--",
    "escn": "-.",
    "segnn": ":",
    "schnet": (0, (5, 1, 1, 1)),
}
#: learning-curve markers, one per scale drawn (training structures, budget, preset)
SCALE_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: MD17 tables whose test force MAE a sample-efficiency line is drawn against, first match wins
PAPER_TABLES = ("6", "5", "4")
#: training structures behind those tables' values, per paper dataset (MD17: 950 frames per
#: molecule, v1 line 635)
PAPER_N_TRAIN = {"md17": 950}
PAPER_PROFILE = "paper-v1"
BACKBONE_MARKERS = {
    "equiformer": "o",
    "equiformer-v2": "s",
    "escn": "^",
    "segnn": "D",
    "schnet": "v",
}


def make_plot(kind: str, runs: list[Run], output: str | Path) -> Path:
    """Draw plot ``kind`` (one of PLOTS) of ``runs`` into ``output`` (.png, .pdf or .svg)."""
    if kind not in PLOTS:
        raise ConfigError(f"unknown plot {kind!r}; known: {', '.join(PLOTS)}")
    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(
            f"--output {output}: unknown figure format {fmt!r}; use "
            f"{', '.join('.' + f for f in FORMATS)}"
        )
    draw = {
        "learning-curves": learning_curves,
        "parity": parity,
        "sample-efficiency": sample_efficiency,
    }[kind]
    fig = draw(runs)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=PNG_DPI, bbox_inches="tight")
    return write_bytes_atomic(output, buf.getvalue())


def _method(run: Run) -> str:
    value = run.value("method")
    return "?" if value is MISSING else str(value)


def _backbone(run: Run) -> str:
    value = run.value("backbone")
    return "?" if value is MISSING else str(value)


def _style(run: Run) -> dict:
    """Colour by method, line style by backbone."""
    return {
        "color": METHOD_COLORS.get(_method(run)),
        "linestyle": BACKBONE_STYLES.get(_backbone(run), "-"),
    }


def _by_split(line: dict) -> dict:
    """A log line with its values keyed ``<split>/<name>`` (``step``/``epoch`` kept as they are)."""
    split = line.get("split")
    if split is None:
        return dict(line)
    return {
        k if k in ("step", "epoch") else f"{split}/{k}": v for k, v in line.items() if k != "split"
    }


def _scale(run: Run, key: str):
    """A scale value of the run: its record's ``scale`` entry, else the named config value."""
    return run.record.scale.get(key, run.value(key))


def _scale_tag(run: Run) -> str:
    """``n_train N, B epochs|steps, preset P``: what a learning curve's length and level
    depend on besides backbone and method."""
    n_train = _scale(run, "n_train")
    preset = _scale(run, "preset")
    parts = [] if n_train in (None, MISSING) else [f"n_train {n_train}"]
    parts.append(_budget(run))
    if preset not in (None, MISSING):
        parts.append(f"preset {preset}")
    return ", ".join(parts)


def learning_curves(runs: list[Run]) -> Figure:
    """Validation force MAE (log scale) vs epoch of every run whose ``log.jsonl`` has
    validation lines; runs of more than one scale (:func:`_scale_tag`) get a marker per
    scale and the scale in their label."""
    curves = []
    for run in sorted(runs, key=lambda r: r.name):
        points = [line for line in map(_by_split, iter_log(run)) if CURVE_KEY in line]
        if points:
            curves.append((run, _scale_tag(run), points))
    if not curves:
        raise DataError(
            None,
            None,
            f"no run has a log.jsonl with validation force MAE "
            f"({CURVE_KEY}; bench run logs it every train.val_every_epochs)",
        )
    scales = sorted({tag for _, tag, _ in curves})
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for run, tag, points in curves:
        x = "epoch" if all("epoch" in p for p in points) else "step"
        label = f"{_backbone(run)} / {_method(run)}"
        if len(scales) > 1:
            label += f", {tag}"
        marker = SCALE_MARKERS[scales.index(tag) % len(SCALE_MARKERS)]
        ax.plot(
            [p[x] for p in points],
            [p[CURVE_KEY] for p in points],
            marker=marker,
            ms=3,
            label=f"{label} ({run.name})",
            **_style(run),
        )
    # log y: arms that differ tenfold (Noisy Nodes on MD frames) keep the others readable
    ax.set(
        xlabel="epoch",
        ylabel="validation force MAE (meV/Å)",
        yscale="log",
        title="Learning curves",
    )
    _legend_beside(ax)
    return fig


def parity(runs: list[Run]) -> Figure:
    """Predicted vs true force components, one panel per method, of every run with
    ``predictions.npz``."""
    found = [(run, _predictions(run)) for run in runs if (run.run_dir / PREDICTIONS_FILE).is_file()]
    if not found:
        raise DataError(
            None,
            None,
            f"no run has {PREDICTIONS_FILE} (forces_pred, forces_true "
            "[N, 3] eV/Angstrom; bench eval --run RUN writes it)",
        )
    methods = sorted({_method(run) for run, _ in found}, key=_method_order)
    fig = Figure(figsize=(4.2 * len(methods), 4.4))
    axes = fig.subplots(1, len(methods), squeeze=False, sharex=True, sharey=True)[0]
    low = min(float(true.min()) for _, (_, true) in found)
    high = max(float(true.max()) for _, (_, true) in found)
    for ax, method in zip(axes, methods, strict=True):
        ax.plot([low, high], [low, high], color="k", lw=0.8)
        for run, (pred, true) in found:
            if _method(run) != method:
                continue
            mae = float(np.abs(pred - true).mean()) * 1000.0
            ax.scatter(
                true.ravel(),
                pred.ravel(),
                s=4,
                alpha=0.5,
                color=METHOD_COLORS.get(method),
                marker=BACKBONE_MARKERS.get(_backbone(run), "o"),
                label=f"{_backbone(run)}, MAE {mae:.1f} meV/Å\n{run.name}",
            )
        ax.set(title=method, xlabel="true force component (eV/Å)", aspect="equal")
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), borderaxespad=0.0)
    axes[0].set_ylabel("predicted force component (eV/Å)")
    return fig


def _legend_beside(ax) -> None:
    """The legend right of the axes, so it never hides a point."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _method_order(name: str) -> tuple[int, str]:
    order = list(METHOD_COLORS)
    return (order.index(name) if name in order else len(order), name)


def _predictions(run: Run) -> tuple[np.ndarray, np.ndarray]:
    path = run.run_dir / PREDICTIONS_FILE
    with np.load(path) as data:
        arrays = []
        for key in ("forces_pred", "forces_true"):
            if key not in data:
                raise DataError(path, key, "missing array")
            arrays.append(np.asarray(data[key], dtype=float))
        free = np.asarray(data["free"], dtype=bool) if "free" in data else None
    pred, true = arrays
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] != 3:
        raise DataError(
            path, "forces_pred", f"expected two [N, 3] arrays, got {pred.shape} and {true.shape}"
        )
    if free is not None and free.shape == (len(pred),):
        pred, true = pred[free], true[free]
    return pred, true


def sample_efficiency(runs: list[Run]) -> Figure:
    """Test force MAE vs number of training structures; runs that differ in anything but
    n_train and seed (backbone, method, data, lmax, variant, preset, step budget) are
    separate lines."""
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    styles: dict[str, Run] = {}
    for run in runs:
        n_train = _scale(run, "n_train")
        mae = run.metric("test", "force_mae_mev_per_a")
        if n_train in (None, MISSING) or mae is None:
            continue
        curves[_curve_label(run)][int(n_train)].append(mae)
        styles[_curve_label(run)] = run
    if not curves:
        raise DataError(None, None, "no run records both n_train and a test force MAE")
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    papers = 0
    for label, points in sorted(curves.items()):
        sizes = sorted(points)
        means = [statistics.fmean(points[n]) for n in sizes]
        stds = [statistics.stdev(points[n]) if len(points[n]) > 1 else 0.0 for n in sizes]
        run = styles[label]
        drawn = ax.errorbar(
            sizes, means, yerr=stds, marker="o", capsize=3, label=label, **_style(run)
        )
        paper = paper_force_mae(run)
        if paper is not None:
            n_paper, value = paper
            ax.plot(
                [n_paper], [value], linestyle="none", mfc="none", ms=7,
                marker=BACKBONE_MARKERS.get(_backbone(run), "o"),
                color=drawn.lines[0].get_color(), gid="paper", label="_nolegend_",
            )  # fmt: skip
            papers += 1
    if papers:
        note = f"open: paper ({PAPER_PROFILE}, full scale); colour = method, shape = backbone"
        ax.plot([], [], linestyle="none", marker="o", mfc="none", color="k", label=note)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training structures",
        ylabel="test force MAE (meV/Å)",
        title="Sample efficiency",
    )
    _legend_beside(ax)
    return fig


def paper_force_mae(run: Run) -> tuple[int, float] | None:
    """``(training structures, test force MAE)`` of the first :data:`PAPER_TABLES` cell whose
    row and column keys ``run``'s config matches (bench.reports.match), or None."""
    for table_id in PAPER_TABLES:
        table = load_table(table_id)
        for row in table.rows:
            for col in table.columns:
                if (col.split, col.metric) != ("test", "force_mae_mev_per_a"):
                    continue
                text = row.value(PAPER_PROFILE, col.key)
                criteria = row.match | col.match
                n_train = PAPER_N_TRAIN.get(criteria.get("dataset"))
                if text is None or n_train is None:
                    continue
                if match_run(run, criteria, table.defaults) is not None:
                    return n_train, paper_value(text)
    return None


def _curve_label(run: Run) -> str:
    """``backbone / method (dataset molecule, lmax L, variant V, weight_init W), B steps
    [preset P]``; weight_init only when it is not the default (bench.reports.summary)."""

    def known(key: str) -> bool:
        return run.value(key) not in (None, MISSING, GROUP_DEFAULTS.get(key))

    data = " ".join(str(run.value(k)) for k in ("dataset", "molecule") if known(k))
    keys = ("lmax", "variant", "weight_init")
    extra = [data] + [f"{k} {run.value(k)}" for k in keys if known(k)]
    return (
        f"{_backbone(run)} / {_method(run)} ({', '.join(extra)}), {_budget(run)} "
        f"[preset {_scale(run, 'preset')}]"
    )


def _budget(run: Run) -> str:
    """The run's training budget: its epochs when epochs bounded it (``train.max_steps``
    null: runs on more structures take more steps at the same epochs), else the optimiser
    steps taken (else ``max_steps``)."""
    epochs = _scale(run, "epochs")
    if run.value("max_steps") in (None, MISSING) and epochs not in (None, MISSING):
        return f"{epochs:g} epochs"
    steps = run.record.steps or run.record.scale.get("steps") or run.value("max_steps")
    if steps not in (None, MISSING):
        return f"{int(steps)} steps"
    return f"{epochs} epochs"
