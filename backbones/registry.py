"""Backbone names -> builders, and preset resolution from backbones/presets/<name>.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError
from bench.registry import did_you_mean, resolve

#: name -> "module:class"; each class takes the resolved preset dict as keyword arguments.
BACKBONES: dict[str, str] = {
    "equiformer": "backbones.equiformer:Equiformer",
    "segnn": "backbones.segnn:SEGNNLike",
    "schnet": "backbones.schnet:SchNet",
    "equiformer-v2": "backbones.equiformer_v2:EquiformerV2",
    "escn": "backbones.escn:ESCN",
}

PRESET_DIR = Path(__file__).parent / "presets"
#: presets every backbone has; a file may add more (equiformer: `small`)
PRESETS = ("ci", "paper")
DATASETS = ("md17", "oc20", "oc22")


def preset_config(name: str, preset: str = "ci", dataset: str = "md17") -> dict[str, Any]:
    """The keyword arguments of backbone ``name`` at ``preset`` for ``dataset``.

    ``presets/<name>.yaml`` holds ``{preset: {dataset: {key: value}}}``; a dataset entry may
    name ``inherit: <dataset>`` to start from another dataset's entry.
    """
    if name not in BACKBONES:
        raise ConfigError(f"backbone {did_you_mean(name, tuple(BACKBONES))}")
    path = PRESET_DIR / f"{name.replace('-', '_')}.yaml"
    table = yaml.safe_load(path.read_text())
    if preset not in table:
        raise ConfigError(f"{path}: preset {did_you_mean(preset, tuple(table))}")
    by_dataset = table[preset]
    if dataset not in by_dataset:
        raise ConfigError(
            f"{path}: preset {preset!r} has no dataset {dataset!r}; known: {', '.join(by_dataset)}"
        )
    cfg = dict(by_dataset[dataset])
    while "inherit" in cfg:
        parent = dict(by_dataset[cfg.pop("inherit")])
        parent.update(cfg)
        cfg = parent
    return cfg


#: the capability flags of backbones.base.Backbone: given by the method, never by a preset
CAPABILITY_FLAGS = ("force_encoding", "noise_head")


def build_backbone(
    name: str,
    preset: str = "ci",
    dataset: str = "md17",
    force_encoding: bool = False,
    noise_head: bool = False,
    **overrides: Any,
):
    """Build backbone ``name`` from its preset with the given capabilities
    (backbones.base.Capabilities); ``overrides`` replace preset keys.

    Unknown override keys raise ConfigError (the class signature is the schema).
    """
    import inspect

    cls = resolve(BACKBONES, name, "backbone")
    cfg = preset_config(name, preset, dataset)
    cfg.update(overrides)
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in cfg if k not in params)
    if unknown:
        raise ConfigError(
            f"backbone {name!r}: unknown option(s) {unknown}; "
            f"known: {sorted(k for k in params if k not in ('self', *CAPABILITY_FLAGS))}"
        )
    return cls(force_encoding=force_encoding, noise_head=noise_head, **cfg)
