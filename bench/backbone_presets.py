"""Backbone presets (network sizes): ``bench/backbones/presets/<name>.yaml`` read without importing
the backbones package (and torch), so that reports can resolve an old record's preset.

A file holds ``{preset: {dataset kind: {option: value}}}``; a kind's entry may name
``inherit: <kind>`` to start from another kind's entry. bench.backbones.registry builds the
backbone config dataclass from this mapping plus ``model.options``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.registry import did_you_mean
from bench.typed import safe_load


def preset_dir() -> Path:
    """The folder of the preset files (``bench/backbones/presets``), found without importing."""
    return Path(__file__).parent / "backbones" / "presets"


def preset_names(backbone: str) -> list[str]:
    """The presets of ``backbone`` (``ci``, ``paper``, ...)."""
    return list(_table(backbone)[1])


def preset_kinds(backbone: str, preset: str) -> list[str]:
    """The dataset kinds ``preset`` of ``backbone`` has an entry for (``md17``, ``oc20``,
    ``oc20-allmd``, ...); ConfigError naming the file when the preset is not there."""
    return list(_preset(backbone, preset)[1])


def preset_config(backbone: str, preset: str = "ci", kind: str = "md17") -> dict[str, Any]:
    """The options of ``backbone`` at ``preset`` for dataset ``kind`` (``inherit`` resolved);
    ConfigError naming the file when the preset or kind is not there."""
    path, by_kind = _preset(backbone, preset)
    if kind not in by_kind:
        raise ConfigError(
            f"{path}: preset {preset!r} has no dataset {kind!r}; known: {', '.join(by_kind)}"
        )
    cfg, seen = dict(by_kind[kind]), {kind}
    while "inherit" in cfg:
        parent_kind = cfg.pop("inherit")
        if parent_kind in seen or parent_kind not in by_kind:
            raise ConfigError(f"{path}: preset {preset!r}: bad inherit {parent_kind!r}")
        seen.add(parent_kind)
        cfg = dict(by_kind[parent_kind]) | cfg
    return cfg


def _preset(backbone: str, preset: str) -> tuple[Path, dict[str, Any]]:
    """The preset file of ``backbone`` and its ``{kind: options}`` entry for ``preset``."""
    path, table = _table(backbone)
    if preset not in table:
        raise ConfigError(f"{path}: preset {did_you_mean(preset, tuple(table))}")
    return path, table[preset]


def _table(backbone: str) -> tuple[Path, dict[str, Any]]:
    path = preset_dir() / f"{backbone.replace('-', '_')}.yaml"
    try:
        table = safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no preset file for backbone {backbone!r}") from exc
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a mapping of presets")
    return path, table
