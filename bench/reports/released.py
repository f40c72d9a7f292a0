"""Runs evaluated from released checkpoints: imported runs (``bench import``, status
``imported``) that ``bench eval`` evaluated (bench.imports.evaluated), matched to the paper rows
whose model the authors released.

A run fits a row when the row lists the run's checkpoint file name (``scale.imported_from.file``,
its last path component) under ``checkpoints`` and the run has the row's backbone, method
(``dens`` when the weights hold the DeNS heads, else ``none``) and data kind (``oc20`` /
``oc22``, the row's ``dataset``). Such a run is shown on its own line of the row, never pooled
with trained runs; its relative difference is taken against the row's ``released`` values when
the table has them (the authors' later table, which the checkpoints' README matches), else
against ``paper-v1``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from bench.reports.compare import Comparison, Stat, quantity, summarize
from bench.reports.match import same_value
from bench.reports.paper import PaperTable, Row
from bench.reports.runs import Run, load_runs_with_status

#: the label of these lines in every format
LABEL = "evaluated from released checkpoint"
#: paper profiles a released checkpoint's values are compared with, in order of preference
REFERENCES = ("released", "paper-v1")


@dataclass(frozen=True)
class Released:
    """One evaluated released checkpoint on one row: its cells (one run each) and where from."""

    checkpoint: str
    run: str
    cells: dict[str, Stat]
    reference: str | None
    evaluated: str

    @property
    def source(self) -> str:
        """The line's full Source text (formats footnote it after the label)."""
        return f"{LABEL}: {self.checkpoint}; run {self.run}; {self.evaluated}"


def load_released(results_dir: str | Path) -> list[Run]:
    """Every imported run under ``results_dir`` that holds evaluated metrics."""
    from bench.imports.evaluated import IMPORTED

    return [run for run in load_runs_with_status(results_dir, IMPORTED) if run.record.metrics]


def checkpoint_name(run: Run) -> str | None:
    """The file name of the checkpoint ``run`` was imported from, or None."""
    source = (run.record.scale or {}).get("imported_from") or {}
    return PurePath(str(source["file"])).name if source.get("file") else None


def released_lines(table: PaperTable, row: Row, runs: list[Run]) -> tuple[Released, ...]:
    """The :class:`Released` lines of ``row``: one per fitting run with at least one cell."""
    out = []
    for run in runs:
        name = checkpoint_name(run)
        if name not in row.checkpoints or not _fits(run, row):
            continue
        cells = {}
        for col in table.columns:
            value = quantity(run, col) if col.quantity in ("metric", "params") else None
            if value is not None:
                cells[col.key] = summarize([(run.name, value)])
        if any(col.quantity == "metric" and col.key in cells for col in table.columns):
            reference = next((p for p in REFERENCES if row.values.get(p)), None)
            out.append(Released(name, run.name, cells, reference, _evaluated(run)))
    return tuple(out)


def _fits(run: Run, row: Row) -> bool:
    return all(
        same_value(key, row.match[want], run.value(key))
        for key, want in (("backbone", "backbone"), ("method", "method"), ("kind", "dataset"))
    )


def _evaluated(run: Run) -> str:
    """``bench eval val (oc20, 4 structures, 2026-12-01)`` for each evaluated split."""
    done = (run.record.scale or {}).get("evaluated") or {}
    parts = [
        f"{split} ({info.get('dataset')}, {info.get('n_structures')} structures, "
        f"{str(info.get('evaluated_at', ''))[:10]})"
        for split, info in sorted(done.items())
    ]
    return "bench eval " + "; ".join(parts) if parts else "evaluation not recorded"


def with_released(comparison: Comparison, runs: list[Run]) -> Comparison:
    """``comparison`` with the released-checkpoint lines of ``runs`` on every row they fit."""
    rows = tuple(
        replace(r, released=released_lines(comparison.table, r.row, runs)) for r in comparison.rows
    )
    return replace(comparison, rows=rows)
