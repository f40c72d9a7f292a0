"""bench/paper_tables/ loads, validates, and names what it cannot load."""

from __future__ import annotations

import shutil

import pytest
import yaml

from bench.backbones.registry import BACKBONES
from bench.data.registry import DATASETS
from bench.errors import DataError
from bench.methods import METHODS
from bench.reports.paper import PAPER_TABLES_DIR, load_table, paper_cells, table_ids

#: metric names of bench/records.py, plus the IS2RE energy the relaxation writes
METRICS = {
    "energy_mae_mev",
    "force_mae_mev_per_a",
    "force_cos",
    "force_magnitude_mae_mev_per_a",
    "efwt",
    "is2re_energy_mae_mev",
}


def test_shipped_tables():
    assert table_ids() == ["1a", "1b", "1c", "1d", "1e", "2", "3", "4", "5", "6"]


@pytest.mark.parametrize("table_id", table_ids())
def test_rows_are_distinct_and_name_known_things(table_id):
    table = load_table(table_id)
    matches = [tuple(sorted(r.match.items())) for r in table.rows]
    assert len(set(matches)) == len(matches), "two rows with the same defining config"
    for row in table.rows:
        if not row.external:
            assert row.match["backbone"] in BACKBONES
        assert row.match["method"] in METHODS and row.match["dataset"] in DATASETS
    assert {c.metric for c in table.columns if c.quantity == "metric"} <= METRICS


def test_long_form_cells_name_everything():
    cells = list(paper_cells(load_table("4")))
    aspirin = [
        c for c in cells if c["row"] == "equiformer_l2_dens" and c.get("molecule") == "aspirin"
    ]
    assert [(c["metric"], c["unit"], c["split"], c["profile"]) for c in aspirin] == [
        ("energy_mae_mev", "meV", "test", "paper-v1"),
        ("force_mae_mev_per_a", "meV/Å", "test", "paper-v1"),
        ("energy_mae_mev", "meV", "test", "released"),
        ("force_mae_mev_per_a", "meV/Å", "test", "released"),
    ]
    assert all({"backbone", "method", "dataset", "lmax"} <= set(c) for c in aspirin)


def test_unknown_tables_are_named():
    with pytest.raises(DataError, match="no such paper table; unknown '1x'"):
        load_table("1x")


@pytest.fixture
def copy_of_table4(tmp_path):
    shutil.copy(PAPER_TABLES_DIR / "table4.yaml", tmp_path / "table4.yaml")
    path = tmp_path / "table4.yaml"
    return path, yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["rows"][0].update(colour="red"), "rows[0].colour"),
        (
            lambda d: d["rows"][0]["values"]["released"].update(aspirin_energy=16.0),
            "rows[0].values.released.aspirin_energy",
        ),
        (lambda d: d["rows"][0]["values"].update(v2={}), "rows[0].values"),
        (lambda d: d["columns"][0].update(quantity="speed"), "columns[0].quantity"),
        (lambda d: d["rows"][1]["match"].pop("method"), "rows[1].match"),
    ],
    ids=["unknown-key", "unquoted-value", "unknown-profile", "bad-quantity", "no-method"],
)
def test_bad_table_files_name_file_and_field(copy_of_table4, edit, field):
    path, data = copy_of_table4
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(DataError) as info:
        load_table("4", path.parent)
    assert info.value.path == str(path) and info.value.field == field
