"""`bench report --summary`: all runs as one pandas table and each method against `none`."""

from __future__ import annotations

import math

import pytest

from bench.errors import ConfigError
from bench.reports.summary import regimes_frame, render_summary, runs_frame, sort_frame


def test_one_line_per_finished_run_with_config_and_metrics(runs):
    frame = runs_frame(runs)
    assert len(frame) == 14
    row = frame.set_index("run").loc["md17/aspirin/equiformer-none-seed0-copy"]
    assert (row["backbone"], row["method"], row["lmax"], row["scale"]) == (
        "equiformer",
        "none",
        3,
        "paper scale",
    )
    assert row["test/force_mae_mev_per_a"] == 6.8 and row["train_h"] == pytest.approx(60.0)
    oc22 = frame.set_index("run").loc["oc/eqv2-dens-oc22"]
    assert oc22["val/id/force_mae_mev_per_a"] == 45.0


def test_improvement_over_none_within_equal_groups(runs):
    frame = runs_frame(runs).set_index("run")
    col = "test/force_mae_mev_per_a_vs_none_pct"
    # schnet ethanol n_train 16: none 120, dens 110 meV/A -> (120 - 110) / 120
    assert frame.loc["schnet/ethanol-dens-n16", col] == pytest.approx(100 / 12)
    assert frame.loc["schnet/ethanol-dens-n64", col] == pytest.approx(12.5)  # 80 -> 70
    # equiformer ci: none 101, dens 95; the paper-scale `none` runs are another group
    assert frame.loc["ci/dens-aspirin", col] == pytest.approx(600 / 101)
    # no `none` run in its group (rMD17 data): no comparison
    assert math.isnan(frame.loc["rmd17/dens-aspirin", col])


def test_regime_table_averages_seeds(runs):
    regimes = regimes_frame(runs_frame(runs))
    paper = regimes[
        regimes["group"].str.contains("paper scale") & regimes["group"].str.contains("lmax=2")
    ]
    assert list(paper["runs"]) == [3]
    assert paper["test/force_mae_mev_per_a"].iloc[0] == pytest.approx(22.3 / 3)


def test_sorting(runs):
    frame = sort_frame(runs_frame(runs), "test/force_mae_mev_per_a")
    values = frame["test/force_mae_mev_per_a"].dropna().tolist()
    assert values == sorted(values) and frame["run"].iloc[0].endswith("seed0-copy")
    with pytest.raises(ConfigError, match="unknown column"):
        sort_frame(runs_frame(runs), "nope")


def test_regimes_show_mean_and_std_over_seeds(runs):
    from bench.reports.summary import mean_std_text

    text = mean_std_text(regimes_frame(runs_frame(runs)))
    three = text[text["runs"] == 3]
    assert list(three["test/energy_mae_mev (mean ± std)"]) == ["5.50 ± 0.36"]
    assert "5.50 ± 0.36" in render_summary(runs, "md")
