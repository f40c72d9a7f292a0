"""The perf result record: one JSON file per `bench perf` run, written atomically.

Schema (``schema`` 1): ``component`` ("train", "graph", "loader" or "reference": the
authors' code against dens-bench, tools/refbench), ``config`` (what was
measured and how), ``results`` (component-specific numbers, seconds and MB), ``hardware``,
``versions``, ``git_revision``, ``command`` and ``created_at`` (UTC, ISO 8601).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import DataError
from bench.io import write_json_atomic

SCHEMA = 1
COMPONENTS = ("train", "graph", "loader", "reference")
#: where records go unless --output names a file
DEFAULT_DIR = Path("results") / "perf"


@dataclass
class PerfRecord:
    """One measurement: what was run, on what, and the numbers."""

    component: str
    config: dict[str, Any]
    results: dict[str, Any]
    hardware: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    git_revision: str | None = None
    command: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    schema: int = SCHEMA

    def __post_init__(self) -> None:
        if self.component not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}, got {self.component!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def default_name(self) -> str:
        """``<component>[-<backbone>][-<dataset>][-<preset>]-<YYYYmmddTHHMMSS>.json``."""
        parts = [self.config.get(k) for k in ("backbone", "dataset", "preset")]
        stamp = re.sub(r"[^0-9T]", "", self.created_at.split("+")[0])
        tag = "-".join(str(p) for p in (self.component, *parts, stamp) if p)
        return re.sub(r"[^A-Za-z0-9._-]", "_", tag) + ".json"

    def write(self, output: str | Path | None = None) -> Path:
        """Write to ``output`` (a file) or ``results/perf/<default_name>`` under the working
        directory; returns the absolute path."""
        path = Path(output) if output is not None else DEFAULT_DIR / self.default_name()
        return write_json_atomic(path.absolute(), self.to_dict())


def read_perf_record(path: str | Path) -> PerfRecord:
    """A record written by :meth:`PerfRecord.write`; DataError when unreadable or malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(path, None, f"not a perf record ({exc})") from exc
    names = {f.name for f in fields(PerfRecord)}
    if not isinstance(data, dict) or set(data) != names:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise DataError(path, None, f"perf record keys {got} != {sorted(names)}")
    if data["schema"] != SCHEMA:
        raise DataError(path, "schema", f"schema {data['schema']!r} != {SCHEMA}")
    try:
        return PerfRecord(**data)
    except ValueError as exc:
        raise DataError(path, "component", str(exc)) from exc
