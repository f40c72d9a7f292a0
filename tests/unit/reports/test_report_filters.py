"""--molecule, --preset and --paper-scale-only, and every table in every format."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.reports import report_table
from bench.reports.compare import compare
from bench.reports.filters import keep_run, only_molecule
from bench.reports.formats import tex
from bench.reports.hyper import hyper_ids, load_hyper
from bench.reports.paper import load_table, table_ids


def test_only_molecule_keeps_its_columns_and_the_others():
    table = only_molecule(load_table("4"), "aspirin")
    assert [c.key for c in table.columns] == [
        "aspirin_energy",
        "aspirin_forces",
        "train_time",
        "params",
    ]
    with pytest.raises(ConfigError, match="table 1a has no molecule columns"):
        only_molecule(load_table("1a"), "aspirin")


def test_run_filters(runs):
    table = load_table("4")
    small = {g.scale.paper for r in compare(table, runs).rows for g in r.groups}
    assert small == {True, False}
    kept = [r for r in runs if keep_run(r, None, True)]
    assert {g.scale.paper for r in compare(table, kept).rows for g in r.groups} == {True}
    assert {r.value("preset") for r in runs if keep_run(r, "ci", False)} == {"ci"}


@pytest.mark.parametrize("table_id", [*table_ids(), *hyper_ids()])
@pytest.mark.parametrize("fmt", ["md", "latex", "csv"])
def test_every_table_in_every_format_shows_the_v1_numbers(results_dir, table_id, fmt):
    text = report_table(table_id, results_dir, fmt)
    if table_id in hyper_ids():
        row = next(r for r in load_hyper(table_id)["rows"] if r["key"])
        values = list(row["values"].values())
    else:
        first = next(r for r in load_table(table_id).rows if r.values.get("paper-v1"))
        values = list(first.values["paper-v1"].values())
        assert (tex("paper-v1") if fmt == "latex" else "paper-v1") in text
    assert all((tex(v) if fmt == "latex" else v) in text for v in values), values


def test_markdown_lines_stay_short(results_dir):
    for table_id in table_ids():
        text = report_table(table_id, results_dir, "md")
        widest = max(len(ln) for ln in text.splitlines() if ln.startswith("|"))
        assert widest <= 160, (table_id, widest)
