"""bench.reports.released: an evaluated imported run fits only the row that lists its
checkpoint file and has its backbone, method and data kind; it gets its own line and a
relative difference against the row's released values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.records import RunRecord
from bench.reports import compare, load_table, render
from bench.reports.released import LABEL, released_lines, with_released
from bench.reports.runs import Run

VAL = {"val": {"energy_mae_mev": 230.0, "force_mae_mev_per_a": 14.7}}


def _run(
    name: str, file: str, method: str = "dens", kind: str = "oc20", metrics: dict | None = None
) -> Run:
    config = {
        "model": {"backbone": "equiformer-v2"},
        "method": {"name": method},
        "data": {"name": kind, "kind": kind},
        "preset": "paper",
    }
    record = RunRecord(
        run_id=name,
        status="imported",
        config=config,
        seed=0,
        metrics=VAL if metrics is None else metrics,
        scale={
            "imported_from": {"file": f"/ckpt/{file}"},
            "evaluated": {"val": {"dataset": kind, "n_structures": 9}},
        },
    )
    return Run(Path("/r") / name, record, Path("/r"))


def _row(table, row_id):
    return next(r for r in table.rows if r.id == row_id)


@pytest.mark.parametrize(
    "run",
    [
        _run("other-file", "eq2_dens_oc22.pt"),
        _run("no-dens", "eq2_dens_allmd.pt", method="none"),
        _run("oc22-data", "eq2_dens_allmd.pt", kind="oc22"),
    ],
    ids=lambda r: r.record.run_id,
)
def test_wrong_checkpoint_method_or_kind_is_not_shown(run):
    table = load_table("2")
    assert released_lines(table, _row(table, "equiformer_v2_dens_160m"), [run]) == ()


def test_fitting_run_gets_its_line_against_released_values():
    table = load_table("2")
    (line,) = released_lines(
        table, _row(table, "equiformer_v2_dens_160m"), [_run("eq2", "eq2_dens_allmd.pt")]
    )
    assert (line.checkpoint, line.reference) == ("eq2_dens_allmd.pt", "released")
    assert line.cells["val_forces"].mean == 14.7 and "test_forces" not in line.cells
    text = render(with_released(compare(table, []), [_run("eq2", "eq2_dens_allmd.pt")]), "md")
    row = next(t for t in text.splitlines() if LABEL + " [" in t and "14.70" in t)
    assert "230.0" in row
    delta = text.splitlines()[text.splitlines().index(row) + 1]
    assert f"{(14.7 / 14.0 - 1) * 100:+.1f}%" in delta  # released value 14.0


def test_run_without_metrics_is_not_shown():
    table = load_table("2")
    run = _run("eq2", "eq2_dens_allmd.pt", metrics={})
    assert released_lines(table, _row(table, "equiformer_v2_dens_160m"), [run]) == ()
