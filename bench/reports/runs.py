"""Finished runs as the reports see them: the record, named config values, metrics, scale.

Config values are looked up by canonical name in the RESOLVED config (``config.yaml`` is
``asdict(bench.config.RunConfig)``), never in a directory name:

- the names of :data:`KEY_PATHS` (``backbone`` is ``model.backbone``, ``lambda_energy`` is
  ``loss.lambda_energy``, ...);
- any other name is a method hyper-parameter (``method.params``: ``p_dens``, ``sigma``,
  ``sigma_high``, ``corrupt_ratio``, ``lambda_dens``, ...) or a backbone option
  (``model.options``: a record holds every one, e.g. ``lmax``).

Records written before configs held every architecture key (``options: {}``) get the
missing options from their recorded preset (bench.backbone_presets.preset_config, the one
preset reader), and records older than the glossary are read with the new names
(bench.records.upgrade_config).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from bench.errors import ConfigError, DataError
from bench.records import RunRecord, iter_records

#: canonical name -> path in the resolved config
KEY_PATHS: dict[str, tuple[str, ...]] = {
    "backbone": ("model", "backbone"),
    "method": ("method", "name"),
    "dataset": ("data", "name"),
    "kind": ("data", "kind"),
    "molecule": ("data", "molecule"),
    "labels": ("data", "labels"),
    "n_train": ("data", "n_train"),
    "profile": ("profile",),
    "preset": ("preset",),
    "variant": ("variant",),
    "seed": ("seed",),
    "lambda_energy": ("loss", "lambda_energy"),
    "lambda_force": ("loss", "lambda_force"),
    "epochs": ("train", "epochs"),
    "max_steps": ("train", "max_steps"),
}


class _Missing:
    """The value of a key that a run's config does not set."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
#: backbone -> architecture options added after records were written without them -> the value
#: every such record was built with (not today's preset value: the presets may choose otherwise)
ADDED_OPTIONS: dict[str, dict[str, Any]] = {
    "equiformer": {"weight_init": "normal"},
    "segnn": {"weight_init": "normal"},
}


@dataclass(frozen=True)
class Run:
    """One finished run directory. ``root`` is the results directory it was found under."""

    run_dir: Path
    record: RunRecord
    root: Path

    @property
    def name(self) -> str:
        """The run directory relative to the results directory (POSIX form)."""
        return self.run_dir.relative_to(self.root).as_posix()

    @property
    def config(self) -> dict[str, Any]:
        return self.record.config

    def value(self, key: str) -> Any:
        """The resolved config value named ``key`` (module docstring), or MISSING."""
        if key in KEY_PATHS:
            return _get(self.config, KEY_PATHS[key])
        params = _get(self.config, ("method", "params"))
        if isinstance(params, dict) and key in params:
            return params[key]
        options = _get(self.config, ("model", "options"))
        if isinstance(options, dict) and key in options:
            return options[key]
        added = ADDED_OPTIONS.get(str(self.value("backbone")), {})
        if key in added:
            return added[key]
        return self._preset_options.get(key, MISSING)

    @cached_property
    def _preset_options(self) -> dict[str, Any]:
        backbone, preset, kind = (self.value(k) for k in ("backbone", "preset", "kind"))
        return preset_options(str(backbone), str(preset), str(kind))

    def metric(self, split: str, name: str) -> float | None:
        """``metrics[split][name]`` as a float, or None when the run did not record it."""
        value = self.record.metrics.get(split, {}).get(name)
        return None if value is None else float(value)

    @property
    def profile(self) -> str:
        value = self.value("profile")
        return "unknown" if value is MISSING else str(value)


def preset_options(backbone: str, preset: str, kind: str) -> dict[str, Any]:
    """bench.backbone_presets.preset_config (no torch import), or {} when the record names
    a backbone, preset or kind that has none."""
    from bench.backbone_presets import preset_config

    try:
        return preset_config(backbone, preset, kind)
    except ConfigError:
        return {}


def _get(config: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = config
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def load_runs(results_dir: str | Path) -> list[Run]:
    """Every finished (``status == "done"``) run under ``results_dir``, sorted by directory;
    an unreadable record is skipped with a warning on stderr naming the file."""
    return load_runs_with_status(results_dir, "done")


def load_runs_with_status(results_dir: str | Path, status: str) -> list[Run]:
    """Every run of record status ``status`` under ``results_dir`` (as :func:`load_runs`)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise DataError(root, None, "no such results directory (pass --results DIR)")
    records = iter_records(root, status=status, on_unreadable=_warn_skipped)
    return [Run(run_dir, rec, root) for run_dir, rec in records]


def _warn_skipped(exc: DataError) -> None:
    print(f"warning: skipped {exc}", file=sys.stderr)


def iter_log(run: Run) -> Iterator[dict[str, Any]]:
    """The JSON objects of the run's ``log.jsonl`` (none when the file is absent)."""
    import json

    from bench.records import LOG_FILE

    path = run.run_dir / LOG_FILE
    if not path.is_file():
        return
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, None, f"line {number} is not JSON ({exc.msg})") from exc
