"""Plots produce non-empty PNG files; parity reads predictions.npz."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.errors import ConfigError, DataError
from bench.reports import load_runs
from bench.reports.plots import PREDICTIONS_FILE, make_plot

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000


@pytest.mark.parametrize("kind", ["learning-curves", "sample-efficiency"])
def test_plots_from_fixture(runs, tmp_path, kind):
    out = make_plot(kind, runs, tmp_path / "sub" / f"{kind}.png")
    assert_png(out)
    assert [p.name for p in out.parent.iterdir()] == [f"{kind}.png"]  # no temp file left


def test_parity_reads_predictions(results_dir, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(results_dir / "ci", root / "ci")
    rng = np.random.default_rng(0)
    true = rng.normal(size=(30, 3))
    np.savez(root / "ci" / "dens-aspirin" / PREDICTIONS_FILE, forces_true=true,
             forces_pred=true + 0.01 * rng.normal(size=(30, 3)))
    assert_png(make_plot("parity", load_runs(root), tmp_path / "parity.png"))
    np.savez(root / "ci" / "none-aspirin" / PREDICTIONS_FILE, forces_true=true,
             forces_pred=true[:, :2])
    with pytest.raises(DataError, match="forces_pred"):
        make_plot("parity", load_runs(root), tmp_path / "bad.png")


def test_plot_errors(runs, tmp_path):
    with pytest.raises(DataError, match=PREDICTIONS_FILE):
        make_plot("parity", runs, tmp_path / "p.png")
    with pytest.raises(ConfigError, match="unknown plot"):
        make_plot("histogram", runs, tmp_path / "p.png")
    no_logs = [r for r in runs if not (r.run_dir / "log.jsonl").exists()]
    with pytest.raises(DataError, match="log.jsonl"):
        make_plot("learning-curves", no_logs, tmp_path / "p.png")
