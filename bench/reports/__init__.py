"""Reports: the paper's tables beside reproduced runs, a summary of all runs, and plots.

Everything here is derived from run records (bench.records) and bench/paper_tables/ only.
"""

from __future__ import annotations

from pathlib import Path

from bench.reports.compare import Comparison, compare
from bench.reports.formats import FORMATS, render
from bench.reports.paper import PAPER_TABLES_DIR, PaperTable, load_table, table_ids
from bench.reports.runs import Run, load_runs


def report_table(
    table_id: str,
    results: str | Path = "results",
    fmt: str = "md",
    profile: str | None = None,
    paper_tables: str | Path = PAPER_TABLES_DIR,
) -> str:
    """Paper table ``table_id`` beside the runs under ``results``, rendered as ``fmt``."""
    table = load_table(table_id, Path(paper_tables))
    return render(compare(table, load_runs(results), profile), fmt)


__all__ = [
    "FORMATS", "PAPER_TABLES_DIR", "Comparison", "PaperTable", "Run", "compare", "load_runs",
    "load_table", "render", "report_table", "table_ids",
]
