"""Report filters: one molecule's columns, runs of one preset, paper-scale runs only."""

from __future__ import annotations

import dataclasses

from bench.errors import ConfigError
from bench.reports.match import run_scale
from bench.reports.paper import PaperTable
from bench.reports.runs import Run


def only_molecule(table: PaperTable, molecule: str) -> PaperTable:
    """``table`` with the columns of ``molecule`` (aliases accepted) and the columns of no
    molecule (time, parameters); ConfigError when the table has no such molecule column."""
    from bench.data.molecules import ALIASES

    name = ALIASES.get(molecule, molecule)
    known = list(dict.fromkeys(c.match["molecule"] for c in table.columns if "molecule" in c.match))
    if name not in known:
        have = ", ".join(known) if known else "no molecule columns"
        raise ConfigError(f"--molecule {molecule!r}: table {table.id} has {have}")
    columns = tuple(c for c in table.columns if c.match.get("molecule", name) == name)
    return dataclasses.replace(table, columns=columns)


def keep_run(run: Run, preset: str | None, paper_scale_only: bool) -> bool:
    """Whether ``run`` passes ``--preset`` (its config's preset) and ``--paper-scale-only``."""
    if preset is not None and run.value("preset") != preset:
        return False
    return not paper_scale_only or run_scale(run).paper
