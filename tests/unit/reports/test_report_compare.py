"""Aggregation over seeds, relative differences, missing runs and scale marks."""

from __future__ import annotations

import math

import pytest

from bench.reports.compare import compare, rel_diff, summarize
from bench.reports.layout import decimals, layout
from bench.reports.paper import load_table


def row_result(runs, table_id, row_id, profile=None):
    return next(r for r in compare(load_table(table_id), runs, profile).rows if r.row.id == row_id)


def test_three_seeds_give_mean_and_sample_std(runs):
    result = row_result(runs, "4", "equiformer_l2")
    paper_group = result.groups[0]
    assert paper_group.scale.paper and paper_group.scale.label == "paper scale"
    energy = paper_group.cells["aspirin_energy"]
    forces = paper_group.cells["aspirin_forces"]
    # fixture seeds: energy 5.2, 5.4, 5.9 meV; forces 7.0, 7.4, 7.9 meV/A
    assert energy.n == 3 and energy.mean == pytest.approx(5.5)
    assert energy.std == pytest.approx(math.sqrt(0.13))  # (0.09 + 0.01 + 0.16) / 2
    assert forces.mean == pytest.approx(22.3 / 3)
    assert forces.std == pytest.approx(0.450925, abs=1e-6)
    assert rel_diff(energy, "5.3") == pytest.approx(0.2 / 5.3 * 100)
    assert paper_group.cells["train_time"].mean == pytest.approx(17.0)  # 16, 17, 18 h
    assert paper_group.cells["params"].mean == pytest.approx(3.496001)


def test_laid_out_cells_show_mean_std_n_and_difference(runs):
    lines = layout(compare(load_table("4"), runs))
    first = next(i for i, ln in enumerate(lines) if ln.model == "Equiformer (L_max = 2)")
    paper, released, ours, delta = lines[first : first + 4]
    assert (paper.source, paper.cells[0], paper.cells[-2:]) == (
        "paper (paper-v1)",
        "5.3",
        ("17", "3.50M"),
    )
    assert released.source == "paper (released)"
    assert ours.source == "ours: paper scale; 3 runs; cpu"
    assert ours.cells[:2] == ("5.50 ± 0.36 (n=3)", "7.43 ± 0.45 (n=3)")
    assert ours.cells[-2:] == ("17.00 CPU-h ± 1.00 (n=3)", "3.50M")
    assert delta.cells[-2] == "-"  # CPU-hours are not compared with the paper's GPU-hours
    assert ours.cells[2] == "-"  # no benzene run
    assert delta.source == "vs paper (paper-v1)" and delta.cells[:2] == ("+3.8%", "+3.2%")


def test_smaller_scale_runs_are_marked_and_never_averaged_with_paper_scale(runs):
    result = row_result(runs, "4", "equiformer_l2")
    labels = [g.scale.label for g in result.groups]
    assert labels == ["paper scale", "SMALLER SCALE: preset ci, 3 epochs, n_train 16"]
    assert result.groups[1].runs == ("ci/none-aspirin",)
    assert result.groups[1].cells["aspirin_forces"].mean == pytest.approx(101.0)
    schnet = row_result(runs, "4", "schnet")
    assert [g.scale.label for g in schnet.groups] == [
        "SMALLER SCALE: preset ci, 3 epochs, n_train 16",
        "SMALLER SCALE: preset ci, 3 epochs, n_train 64",
    ]


def test_rows_without_runs_say_so(runs):
    lines = layout(compare(load_table("4"), runs))
    first = next(i for i, ln in enumerate(lines) if ln.model.startswith("DimeNet"))
    ours = lines[first + 2]  # after the paper-v1 and released lines
    assert ours.source == "ours: no matching run" and set(ours.cells) == {"-"}
    assert lines[first + 3].first  # the next row starts right after


def test_smaller_scale_runs_show_their_scale_and_no_difference(runs):
    lines = layout(compare(load_table("6"), runs))
    small = [i for i, ln in enumerate(lines) if ln.source.startswith("ours: SMALLER SCALE")]
    assert small and lines[0].source == "paper (paper-v1)"
    assert all(i + 1 == len(lines) or lines[i + 1].kind != "delta" for i in small)


def test_summarize_single_run_has_no_std():
    stat = summarize([("a", 2.0)])
    assert (stat.n, stat.mean, stat.std, stat.runs) == (1, 2.0, None, ("a",))
    assert rel_diff(stat, None) is None and rel_diff(stat, "0") is None
    assert rel_diff(stat, "4.0") == pytest.approx(-50.0)


@pytest.mark.parametrize(
    ("text", "quantity", "expected"),
    [
        ("5.3", "metric", 2),
        ("239", "metric", 1),
        ("22.88", "metric", 3),
        ("3.50", "params", 2),
        (None, "metric", 2),
    ],
)
def test_reproduced_values_get_one_more_decimal_than_printed(text, quantity, expected):
    col = next(c for c in load_table("4").columns if c.quantity == quantity)
    assert decimals(text, col) == expected


@pytest.mark.parametrize(
    ("hours", "device", "text"),
    [(2.5, "cuda", "2.50 GPU-h"), (0.25, "cpu", "15.0 CPU-min"), (0.001, "cpu", "4 CPU-s")],
)
def test_training_time_is_in_the_unit_of_its_device(hours, device, text):
    from bench.reports.layout import duration_text

    assert duration_text(summarize([("a", hours)]), device) == text
