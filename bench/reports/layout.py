"""A Comparison laid out as the paper prints it: same rows and columns, and under every paper
row one "ours" line per group of matching runs plus a line of relative differences.

Cell text: paper values as printed (``-`` where the paper prints none, ``n/a`` where no value
was transcribed); ours ``mean ± std (n=N)`` with one more decimal than the paper prints
(``±`` and ``n`` only with several runs, never for parameter counts; training time in the
unit of the runs' device, ``CPU-h`` / ``GPU-h``, or minutes / seconds when under one hour,
never compared with the paper's GPU-hours unless the runs trained on a GPU); relative difference
``+3.8%`` (a line only for paper-scale runs, and only where a paper value of the same profile
exists); ``-`` for no run. A released checkpoint evaluated here gets its own line, labelled
"evaluated from released checkpoint", and a line of relative differences.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.reports.compare import Comparison, Group, RowResult, Stat, rel_diff
from bench.reports.paper import Column, Row
from bench.reports.released import Released

NO_VALUE = "-"
#: the v1 HTML prints some cells unrounded (238.93085000000002): ours never gets more decimals
MAX_DECIMALS = 3
NOT_TRANSCRIBED = "n/a"


@dataclass(frozen=True)
class Line:
    """One printed line: model label (first line of a row only), source, one text per column.

    ``kind`` is ``paper``, ``ours``, ``released`` (bench.reports.released) or ``delta``;
    ``first`` marks the first line of a row.
    """

    kind: str
    model: str
    source: str
    cells: tuple[str, ...]
    first: bool = False


def layout(comparison: Comparison) -> list[Line]:
    """Every line of the comparison, row by row."""
    lines: list[Line] = []
    for result in comparison.rows:
        lines += _row_lines(comparison.table.columns, result, comparison.profile)
    return lines


def _row_lines(columns: tuple[Column, ...], result: RowResult, wanted: str | None) -> list[Line]:
    row = result.row
    label = row.label + (" [inferred]" if row.inferred else "")
    out = []
    for profile in result.paper_profiles or (None,):
        cells = tuple(_paper_text(row, profile, col) for col in columns)
        source = f"paper ({profile or wanted})" if profile or wanted else "paper"
        source += "" if profile else ": values not transcribed"
        out.append(Line("paper", "", source, cells))
    if not result.groups:
        out.append(Line("ours", "", "ours: no matching run", (NO_VALUE,) * len(columns)))
    for group in result.groups:
        out += _group_lines(columns, row, group)
    for released in result.released:
        out += _released_lines(columns, row, released)
    first = out[0]
    out[0] = Line(first.kind, label, first.source, first.cells, first=True)
    return out


def _group_lines(columns: tuple[Column, ...], row: Row, group: Group) -> list[Line]:
    """The ours line of ``group`` and, when a paper value of its profile exists, the line of
    relative differences (paper-scale runs only: a smaller run shows its scale label, no
    difference)."""
    n_runs = len(group.runs)
    profile = f"; profile {group.profile}" if group.profile else ""
    if group.reference is None and group.profile and row.values:
        profile += f" (no paper value of profile {group.profile})"
    source = f"ours: {group.scale.label}{profile}; {n_runs} run{'s' if n_runs > 1 else ''}"
    source += f"; {group.device}"
    ours = tuple(
        _ours_text(group.cells.get(col.key), _reference_text(row, group, col), col, group.device)
        for col in columns
    )
    lines = [Line("ours", "", source, ours)]
    if group.reference is not None and group.scale.paper:
        deltas = tuple(
            _delta_text(group.cells.get(col.key), _reference_text(row, group, col))
            if _comparable(col, group.device)
            else NO_VALUE
            for col in columns
        )
        lines.append(Line("delta", "", f"vs paper ({group.reference})", deltas))
    return lines


def _released_lines(columns: tuple[Column, ...], row: Row, released: Released) -> list[Line]:
    """The line of a released checkpoint evaluated here (kind ``released``) and its relative
    differences from the paper's values of ``released.reference``."""

    def ref(col: Column) -> str | None:
        return None if released.reference is None else row.value(released.reference, col.key)

    cells = tuple(_ours_text(released.cells.get(c.key), ref(c), c, "cpu") for c in columns)
    lines = [Line("released", "", released.source, cells)]
    if released.reference is not None:
        deltas = tuple(_delta_text(released.cells.get(c.key), ref(c)) for c in columns)
        lines.append(Line("delta", "", f"vs paper ({released.reference})", deltas))
    return lines


def _reference_text(row: Row, group: Group, col: Column) -> str | None:
    return None if group.reference is None else row.value(group.reference, col.key)


def _paper_text(row: Row, profile: str | None, col: Column) -> str:
    if profile is None:
        return NOT_TRANSCRIBED
    text = row.value(profile, col.key)
    if text is None:
        return NO_VALUE
    return text + ("M" if col.unit == "M" else "")


def _comparable(col: Column, device: str) -> bool:
    """Whether ours and the paper's value of ``col`` share a unit (time: GPU runs only)."""
    return col.quantity not in ("train_time", "throughput") or device == "cuda"


def _ours_text(stat: Stat | None, paper_text: str | None, col: Column, device: str) -> str:
    if stat is None:
        return NO_VALUE
    if col.quantity == "train_time":
        return duration_text(stat, device)
    digits = decimals(paper_text, col)
    suffix = "M" if col.unit == "M" else ""
    text = f"{stat.mean:.{digits}f}{suffix}"
    if stat.std is not None and col.quantity != "params":
        text += f" ± {stat.std:.{digits}f}{suffix} (n={stat.n})"
    return text


def duration_text(stat: Stat, device: str) -> str:
    """Mean (± std) training time in the device's unit: ``1.25 GPU-h``, ``4.2 CPU-min``,
    ``37 CPU-s`` (hours below one are shown in minutes, minutes below one in seconds)."""
    unit = "GPU" if device == "cuda" else "CPU"
    hours = stat.mean
    scale, suffix, digits = (
        (1.0, "h", 2) if hours >= 1 else (60.0, "min", 1) if hours * 60 >= 1 else (3600.0, "s", 0)
    )
    text = f"{hours * scale:.{digits}f} {unit}-{suffix}"
    if stat.std is not None:
        text += f" ± {stat.std * scale:.{digits}f} (n={stat.n})"
    return text


def decimals(paper_text: str | None, col: Column) -> int:
    """Decimals for a reproduced value: one more than the paper prints (parameter counts:
    as many as the paper, at least 2); 2 without a paper value."""
    if paper_text is None:
        return 2
    printed = len(paper_text.partition(".")[2])
    return max(printed, 2) if col.quantity == "params" else min(printed + 1, MAX_DECIMALS)


def _delta_text(stat: Stat | None, paper_text: str | None) -> str:
    diff = rel_diff(stat, paper_text)
    return NO_VALUE if diff is None else f"{diff:+.1f}%"


def header_text(col: Column) -> str:
    """A one-line column header: the printed header, with the unit when it is not in it
    (the paper's time unit for training time: ours give theirs in each cell)."""
    return col.header if col.unit in col.header else f"{col.header} ({col.unit})"
