"""Reports: the paper's tables beside reproduced runs, a summary of all runs, and plots.

Everything here is derived from run records (bench.records) and bench/paper_tables/ only.
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import ConfigError
from bench.reports.compare import Comparison, compare
from bench.reports.formats import FORMATS, render
from bench.reports.paper import PAPER_TABLES_DIR, PaperTable, load_table, table_ids
from bench.reports.runs import Run, load_runs


def report_table(
    table_id: str,
    results: str | Path | None = "results",
    fmt: str = "md",
    profile: str | None = None,
    paper_tables: str | Path = PAPER_TABLES_DIR,
    *,
    molecule: str | None = None,
    preset: str | None = None,
    paper_scale_only: bool = False,
    commands: bool = False,
) -> str:
    """Paper table ``table_id`` beside the runs under ``results`` (None: no runs), as ``fmt``.

    Tables 7-9 (hyper-parameters) are shown beside ``profile`` (default paper-v1). With
    ``commands``: the `bench run` command of every row instead (bench.reports.commands).
    ``molecule`` keeps that molecule's columns; ``preset`` and ``paper_scale_only`` filter runs
    (trained ones: an evaluated released checkpoint has its own labelled line,
    bench.reports.released).
    """
    from bench.reports.filters import keep_run, only_molecule
    from bench.reports.hyper import hyper_ids, render_hyper
    from bench.reports.released import load_released, with_released

    if table_id in hyper_ids():
        if commands or molecule or preset or paper_scale_only:
            raise ConfigError(
                f"table {table_id} lists hyper-parameters: no runs, commands or "
                "filters (--commands, --molecule, --preset, --paper-scale-only)"
            )
        return render_hyper(table_id, fmt, profile or "paper-v1")
    table = load_table(table_id, Path(paper_tables))
    if molecule is not None:
        table = only_molecule(table, molecule)
    if commands:
        from bench.reports.commands import render_commands

        return render_commands(table, fmt, profile or "paper-v1")
    runs = [] if results is None else load_runs(results)
    runs = [r for r in runs if keep_run(r, preset, paper_scale_only)]
    released = [] if results is None else load_released(results)
    return render(with_released(compare(table, runs, profile), released), fmt)


__all__ = [
    "FORMATS",
    "PAPER_TABLES_DIR",
    "Comparison",
    "PaperTable",
    "Run",
    "compare",
    "load_runs",
    "load_table",
    "render",
    "report_table",
    "table_ids",
]
