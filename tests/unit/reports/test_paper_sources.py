"""Every cell of bench/paper_tables/*.yaml against the transcribed paper text it cites.

The check compares files: it parses ``bench/paper_tables/source/*.txt`` and the data files and
requires them to agree both ways, cell by cell, as text. It restates no number.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.reports.paper import PAPER_TABLES_DIR, load_table, table_ids


def parse_source(path: Path) -> tuple[str, list[str], dict[str, list[str]]]:
    """(profile, header cells, {row label: cells}) of a source transcription."""
    profile, body = None, []
    for line in path.read_text().splitlines():
        if line.startswith("# profile:"):
            profile = line.partition(":")[2].strip()
        elif line.strip() and not line.startswith("#"):
            body.append([cell.strip() for cell in line.split(" | ")])
    header, rows = body[0], body[1:]
    assert profile, f"{path}: no '# profile:' line"
    assert all(len(r) == len(header) for r in rows), f"{path}: ragged rows"
    labels = [r[0] for r in rows]
    assert len(set(labels)) == len(labels), f"{path}: duplicate row labels"
    return profile, header[1:], {r[0]: r[1:] for r in rows}


TABLES = [load_table(i) for i in table_ids()]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"table{t.id}")
def test_every_cell_matches_its_source(table):
    if table.source is None:
        assert not any(row.values for row in table.rows), "a table without source has values"
        assert table.layout_inferred
        return
    profile, header, source_rows = parse_source(PAPER_TABLES_DIR / table.source)
    assert [c.header for c in table.columns] == header
    assert [r.label for r in table.rows] == list(source_rows)
    for row in table.rows:
        assert set(row.values) == {profile}, f"{row.id}: values outside profile {profile}"
        for col, printed in zip(table.columns, source_rows[row.label], strict=True):
            stored = row.value(profile, col.key)
            if printed == "-":
                assert stored is None, f"{row.id}.{col.key}: paper prints '-'"
            else:
                suffix = "M" if col.unit == "M" else ""
                assert printed.endswith(suffix), f"{row.id}.{col.key}: unit {col.unit!r}"
                expected = printed.removesuffix(suffix)
                assert stored == expected, f"{row.id}.{col.key}: {stored!r} vs paper {printed!r}"


def test_every_source_file_is_used():
    used = {load_table(i).source for i in table_ids()}
    on_disk = {f"source/{p.name}" for p in (PAPER_TABLES_DIR / "source").glob("*.txt")}
    assert on_disk == used - {None}
