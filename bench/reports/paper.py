"""The paper's tables as data: ``bench/paper_tables/table<ID>.yaml`` loaded into typed objects.

A table file names its columns (what a cell measures: quantity, split, metric, unit, and any
extra matching key such as the molecule) and its rows (the resolved-config keys that define
the row, and the printed values per profile, as text so that the printed precision survives).
Schema and provenance: ``bench/paper_tables/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from bench.errors import DataError
from bench.registry import did_you_mean

#: bench/paper_tables/, package data (a wheel install has it too)
PAPER_TABLES_DIR = Path(str(files("bench").joinpath("paper_tables")))
#: what a column reads from a run: a metric, or a RunRecord field
QUANTITIES = ("metric", "train_time", "params", "throughput")
#: hyper-parameter profiles a paper value may belong to (bench/configs/profiles/)
PROFILES = ("paper-v1", "released")
_TABLE_KEYS = {"id", "title", "sources", "notes", "defaults", "paper_scale", "columns", "rows"}
_COLUMN_KEYS = {"key", "header", "group", "label", "quantity", "split", "metric", "unit", "match"}
_ROW_KEYS = {
    "id",
    "label",
    "printed",
    "match",
    "values",
    "external",
    "inferred",
    "note",
    "gpu_hours",
    "run",
    "checkpoints",
}


@dataclass(frozen=True)
class Column:
    """One printed column. ``match`` adds cell-level keys (e.g. ``molecule``) to the row's."""

    key: str
    header: str
    group: str
    label: str
    quantity: str
    unit: str
    split: str | None = None
    metric: str | None = None
    match: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One printed row: the config keys that define it and its values per profile (text)."""

    id: str
    label: str
    match: dict[str, Any]
    values: dict[str, dict[str, str]]
    external: bool = False  # a model of another work that dens-bench does not implement
    inferred: bool = False  # the row's identity is inferred (see its note)
    note: str | None = None
    printed: str | None = None  # the row label as its source files print it (default: label)
    gpu_hours: str | None = None  # the paper's GPU-hours for one run of this row (see notes)
    run: dict[str, Any] = field(default_factory=dict)  # keys its command sets beyond ``match``
    checkpoints: tuple[str, ...] = ()  # released checkpoint files of this row's model

    @property
    def source_label(self) -> str:
        """The label this row has in its source transcriptions."""
        return self.printed or self.label

    def value(self, profile: str, column: str) -> str | None:
        """The printed value of ``column`` under ``profile``, or None when not printed."""
        return self.values.get(profile, {}).get(column)


@dataclass(frozen=True)
class PaperTable:
    """A paper table: columns in printed order, rows in printed order."""

    id: str
    title: str
    sources: dict[str, str]  # profile -> source transcription (relative to the tables folder)
    notes: tuple[str, ...]
    defaults: dict[str, Any]
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    path: Path
    paper_scale: str | None = None  # the paper's training scale of the rows, in words

    @property
    def profiles(self) -> tuple[str, ...]:
        """Profiles that hold at least one value in this table, in PROFILES order."""
        used = {p for row in self.rows for p in row.values if row.values[p]}
        return tuple(p for p in PROFILES if p in used)


def table_ids(root: Path = PAPER_TABLES_DIR) -> list[str]:
    """Ids of the tables that have a data file under ``root``, e.g. ``["2", "3", "4", ...]``."""
    return sorted(p.stem.removeprefix("table") for p in Path(root).glob("table*.yaml"))


def load_table(table_id: str, root: Path = PAPER_TABLES_DIR) -> PaperTable:
    """Load and validate ``<root>/table<table_id>.yaml``; DataError names file and field."""
    path = Path(root) / f"table{table_id}.yaml"
    if not path.is_file():
        known = table_ids(root)
        raise DataError(path, None, f"no such paper table; {did_you_mean(table_id, known)}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DataError(path, None, f"not valid YAML ({exc})") from exc
    return _parse_table(raw, path)


def _parse_table(raw: Any, path: Path) -> PaperTable:
    _check_keys(raw, _TABLE_KEYS, {"id", "title", "columns", "rows"}, path, "table")
    columns = tuple(_parse_column(c, path, i) for i, c in enumerate(raw["columns"]))
    keys = [c.key for c in columns]
    if len(set(keys)) != len(keys):
        raise DataError(path, "columns", f"duplicate column keys in {keys}")
    rows = tuple(_parse_row(r, path, i, set(keys)) for i, r in enumerate(raw["rows"]))
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise DataError(path, "rows", f"duplicate row ids in {ids}")
    return PaperTable(
        id=str(raw["id"]),
        title=raw["title"],
        sources=_sources(raw.get("sources"), path),
        notes=tuple(raw.get("notes") or ()),
        defaults=dict(raw.get("defaults") or {}),
        columns=columns,
        rows=rows,
        path=path,
        paper_scale=raw.get("paper_scale"),
    )


def _sources(raw: Any, path: Path) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise DataError(path, "sources", "expected a mapping profile -> source file")
    for profile in raw:
        if profile not in PROFILES:
            raise DataError(
                path, "sources", f"unknown profile {profile!r}; known: {', '.join(PROFILES)}"
            )
    return dict(raw)


def _parse_column(raw: Any, path: Path, index: int) -> Column:
    where = f"columns[{index}]"
    _check_keys(
        raw, _COLUMN_KEYS, {"key", "header", "group", "label", "quantity", "unit"}, path, where
    )
    if raw["quantity"] not in QUANTITIES:
        raise DataError(
            path, f"{where}.quantity", f"must be one of {QUANTITIES}, got {raw['quantity']!r}"
        )
    if raw["quantity"] == "metric" and not (raw.get("split") and raw.get("metric")):
        raise DataError(path, where, "a metric column needs 'split' and 'metric'")
    return Column(**{**raw, "match": dict(raw.get("match") or {})})


def _parse_row(raw: Any, path: Path, index: int, columns: set[str]) -> Row:
    where = f"rows[{index}]"
    _check_keys(raw, _ROW_KEYS, {"id", "label", "match"}, path, where)
    values = raw.get("values") or {}
    for profile, cells in values.items():
        if profile not in PROFILES:
            raise DataError(
                path,
                f"{where}.values",
                f"unknown profile {profile!r}; known: {', '.join(PROFILES)}",
            )
        for key, text in (cells or {}).items():
            if key not in columns:
                raise DataError(path, f"{where}.values.{profile}", f"unknown column {key!r}")
            if not isinstance(text, str):
                raise DataError(
                    path,
                    f"{where}.values.{profile}.{key}",
                    f"write values as quoted text (printed precision), got {text!r}",
                )
            _number(text, path, f"{where}.values.{profile}.{key}")
    for key in ("backbone", "method", "dataset"):
        if key not in raw["match"]:
            raise DataError(path, f"{where}.match", f"missing key {key!r}")
    checkpoints = raw.get("checkpoints") or []
    if not isinstance(checkpoints, list) or not all(isinstance(c, str) for c in checkpoints):
        raise DataError(path, f"{where}.checkpoints", "expected a list of file names")
    return Row(
        **{
            **raw,
            "values": {p: dict(c or {}) for p, c in values.items()},
            "checkpoints": tuple(checkpoints),
        }
    )


def _check_keys(raw: Any, allowed: set[str], required: set[str], path: Path, where: str) -> None:
    if not isinstance(raw, dict):
        raise DataError(path, where, f"expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        hint = did_you_mean(unknown[0], sorted(allowed))
        raise DataError(path, f"{where}.{unknown[0]}", f"unknown key; {hint}")
    missing = sorted(required - set(raw))
    if missing:
        raise DataError(path, f"{where}.{missing[0]}", "missing key")


def _number(text: str, path: Path, where: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise DataError(path, where, f"not a number: {text!r}") from exc


def parse_source(path: Path) -> tuple[str, list[str], dict[str, list[str]]]:
    """(profile, header cells, {row label: cells}) of a source transcription
    (``source/*.txt``; format in bench/paper_tables/README.md). AssertionError when the file
    breaks the format (no profile line, ragged or duplicate rows): a check for the tests."""
    profile, body = None, []
    for line in Path(path).read_text().splitlines():
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


def paper_value(text: str | None) -> float | None:
    """A printed value as a float (None stays None)."""
    return None if text is None else float(text)


def paper_cells(table: PaperTable) -> Iterator[dict[str, Any]]:
    """Every printed value in long form: one dict per (row, column, profile).

    Keys: table, row, label, the row's and column's match keys, column, split, metric, unit,
    profile, value (text as printed).
    """
    for row in table.rows:
        for profile, cells in row.values.items():
            for col in table.columns:
                if col.key in cells:
                    yield {
                        "table": table.id,
                        "row": row.id,
                        "label": row.label,
                        **row.match,
                        **col.match,
                        "column": col.key,
                        "quantity": col.quantity,
                        "split": col.split,
                        "metric": col.metric,
                        "unit": col.unit,
                        "profile": profile,
                        "value": cells[col.key],
                    }
