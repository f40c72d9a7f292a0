"""Paper table vs reproduced runs: for every row, the matching runs grouped by scale (and by
profile where the row's method depends on it), each cell aggregated over seeds.

Runs of different scales are never averaged together: each (scale, profile, device) group
becomes its own "ours" line (the device gives the unit of its training time: CPU- or
GPU-hours). A cell's statistic is the mean and the sample standard deviation (ddof=1)
over the matching runs; the relative difference is ``(mean - paper) / paper`` in percent
(negative = lower than the paper; lower is better for every MAE).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.reports.match import (
    PROFILE_FREE_METHODS,
    Scale,
    match_run,
    profile_fits,
    run_scale,
)
from bench.reports.paper import Column, PaperTable, Row, paper_value
from bench.reports.runs import Run

if TYPE_CHECKING:
    from bench.reports.released import Released


@dataclass(frozen=True)
class Stat:
    """Mean and sample std (None below two values) of one cell over ``n`` runs."""

    n: int
    mean: float
    std: float | None
    runs: tuple[str, ...]


@dataclass(frozen=True)
class Group:
    """One reproduced line of a row: runs of one scale (and profile) and their cell stats.

    ``profile`` is the runs' profile, or None when the row's method ignores profiles;
    ``reference`` is the paper profile its relative differences are taken against;
    ``device`` (``cpu`` / ``cuda``) is where its runs trained.
    """

    scale: Scale
    profile: str | None
    reference: str | None
    cells: dict[str, Stat]
    runs: tuple[str, ...]
    device: str = "cpu"


@dataclass(frozen=True)
class RowResult:
    """A paper row, its printed profiles, its groups of trained runs and its released
    checkpoints evaluated here (bench.reports.released)."""

    row: Row
    paper_profiles: tuple[str, ...]
    groups: tuple[Group, ...]
    released: tuple[Released, ...] = ()


@dataclass(frozen=True)
class Comparison:
    table: PaperTable
    profile: str | None
    rows: tuple[RowResult, ...]


def compare(table: PaperTable, runs: list[Run], profile: str | None = None) -> Comparison:
    """Match ``runs`` to the cells of ``table``; ``profile`` restricts paper values and runs."""
    results = []
    for row in table.rows:
        shown = tuple(p for p in table.profiles if p in row.values and row.values[p])
        if profile is not None:
            shown = tuple(p for p in shown if p == profile)
        groups = _groups(table, row, runs, profile)
        results.append(RowResult(row, shown, groups))
    return Comparison(table, profile, tuple(results))


def _groups(table: PaperTable, row: Row, runs: list[Run], profile: str | None) -> tuple[Group, ...]:
    method = row.match["method"]
    values: dict[tuple[Scale, str | None, str], dict[str, list[tuple[str, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for run in runs:
        if not profile_fits(method, run, profile):
            continue
        for col in table.columns:
            match = match_run(run, {**row.match, **col.match}, table.defaults)
            value = None if match is None else quantity(run, col)
            if value is None:
                continue
            run_profile = None if method in PROFILE_FREE_METHODS else run.profile
            device = str(run.config.get("device", "cpu"))
            values[(run_scale(run, match.data_note), run_profile, device)][col.key].append(
                (run.name, value)
            )
    groups = []
    for (scale, run_profile, device), cells in sorted(values.items(), key=_group_order):
        stats = {key: summarize(pairs) for key, pairs in cells.items()}
        names = tuple(sorted({name for pairs in cells.values() for name, _ in pairs}))
        groups.append(
            Group(
                scale,
                run_profile,
                _reference(row, run_profile, profile, table),
                stats,
                names,
                device,
            )
        )
    return tuple(groups)


def _group_order(item: tuple[tuple[Scale, str | None, str], object]) -> tuple:
    (scale, run_profile, device), _ = item
    return (not scale.paper, scale.label, run_profile or "", device)


def _reference(
    row: Row, run_profile: str | None, wanted: str | None, table: PaperTable
) -> str | None:
    """The paper profile a group is compared against (None: no comparable paper value)."""
    if run_profile is not None:
        return run_profile if row.values.get(run_profile) else None
    candidates = [wanted] if wanted else list(table.profiles)
    return next((p for p in candidates if row.values.get(p)), None)


def quantity(run: Run, col: Column) -> float | None:
    """What ``col`` reads from ``run``, in the column's unit."""
    rec = run.record
    if col.quantity == "metric":
        return run.metric(col.split, col.metric)
    if col.quantity == "train_time":
        return None if rec.wall_time_s is None else rec.wall_time_s / 3600.0
    if col.quantity == "params":
        return None if rec.params is None else rec.params / 1e6
    return rec.samples_per_s


def summarize(pairs: list[tuple[str, float]]) -> Stat:
    """Mean and sample std over the ``(run, value)`` pairs (std None for a single run)."""
    values = [v for _, v in pairs]
    std = statistics.stdev(values) if len(values) > 1 else None
    return Stat(len(values), statistics.fmean(values), std, tuple(sorted(n for n, _ in pairs)))


def rel_diff(stat: Stat | None, paper_text: str | None) -> float | None:
    """``(mean - paper) / paper`` in percent; None without both values or for a zero paper."""
    paper = paper_value(paper_text)
    if stat is None or paper is None or paper == 0:
        return None
    return (stat.mean - paper) / paper * 100.0
