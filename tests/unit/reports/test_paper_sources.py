"""Every cell of bench/paper_tables/*.yaml against the transcribed paper text it cites.

The check compares files: it parses ``bench/paper_tables/source/*.txt`` and the data files and
requires them to agree both ways, cell by cell, as text. It restates no number.
"""

from __future__ import annotations

import pytest

from bench.reports.hyper import hyper_ids, load_hyper
from bench.reports.paper import PAPER_TABLES_DIR, load_table, parse_source, table_ids

TABLES = [load_table(i) for i in table_ids()]
SOURCED = [(t, p) for t in TABLES for p in t.sources]


@pytest.mark.parametrize(("table", "profile"), SOURCED, ids=lambda x: getattr(x, "id", x))
def test_every_cell_matches_its_source(table, profile):
    """Both ways: the rows with values of ``profile`` are the source's rows, in order, and
    every cell equals the printed text ("-": no value)."""
    printed, header, source_rows = parse_source(PAPER_TABLES_DIR / table.sources[profile])
    assert printed == profile, f"{table.sources[profile]}: profile {printed}, table says {profile}"
    assert [c.header for c in table.columns] == header
    rows = [r for r in table.rows if r.values.get(profile)]
    assert [r.source_label for r in rows] == list(source_rows)
    for row in rows:
        for col, text in zip(table.columns, source_rows[row.source_label], strict=True):
            stored = row.value(profile, col.key)
            if text == "-":
                assert stored is None, f"{row.id}.{col.key}: paper prints '-'"
            else:
                suffix = "M" if col.unit == "M" else ""
                assert text.endswith(suffix), f"{row.id}.{col.key}: unit {col.unit!r}"
                expected = text.removesuffix(suffix)
                assert stored == expected, f"{row.id}.{col.key}: {stored!r} vs paper {text!r}"


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"table{t.id}")
def test_values_only_with_a_source(table):
    for row in table.rows:
        unsourced = {p for p, cells in row.values.items() if cells} - set(table.sources)
        assert not unsourced, f"{row.id}: values of {unsourced} without a source file"


def test_every_source_file_is_used():
    used = {s for t in TABLES for s in t.sources.values()}
    used |= {load_hyper(i)["sources"]["paper-v1"] for i in hyper_ids()}
    on_disk = {f"source/{p.name}" for p in (PAPER_TABLES_DIR / "source").glob("*.txt")}
    assert on_disk == used


def test_every_source_cites_its_lines():
    for path in (PAPER_TABLES_DIR / "source").glob("*-v1.txt"):
        assert any(line.startswith("# lines: ") for line in path.read_text().splitlines()), path
