"""Backbone names -> classes, and their configs resolved from presets plus ``model.options``.

Each class declares ``Config``, a frozen dataclass of its architecture keywords (the schema:
unknown keys are a ConfigError with a did-you-mean, checked by bench.typed). A preset
(bench/backbones/presets/<name>.yaml, read by bench.backbone_presets) gives a full set of values;
``model.options`` replace some of them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.backbone_presets import preset_config, preset_dir
from bench.errors import ConfigError
from bench.registry import resolve
from bench.typed import build_dataclass

#: name -> "module:class"; each class declares its Config dataclass.
BACKBONES: dict[str, str] = {
    "equiformer": "bench.backbones.equiformer:Equiformer",
    "segnn": "bench.backbones.segnn:SEGNNLike",
    "schnet": "bench.backbones.schnet:SchNet",
    "equiformer-v2": "bench.backbones.equiformer_v2:EquiformerV2",
    "escn": "bench.backbones.escn:ESCN",
}

PRESET_DIR = preset_dir()
#: presets every backbone has; a file may add more (equiformer: `small`, `paper-l3`)
PRESETS = ("ci", "paper")
DATASETS = ("md17", "oc20", "oc22")

__all__ = ["BACKBONES", "backbone_config", "build_backbone", "preset_config"]


def backbone_config(
    name: str,
    preset: str = "ci",
    dataset: str = "md17",
    options: dict[str, Any] | None = None,
    source: str = "config",
) -> Any:
    """The ``Config`` dataclass of backbone ``name``: its ``preset`` entry for ``dataset``
    (a kind: md17, oc20, oc22) with ``options`` replacing keys. ``source`` names the origin
    in errors (``<source>: model.options: unknown key 'lmx' ... Did you mean 'lmax'?``)."""
    cls = resolve(BACKBONES, name, "backbone")
    values = preset_config(name, preset, dataset) | dict(options or {})
    return build_dataclass(cls.Config, values, source, "model.options")


#: the capability flags of bench.backbones.base.Backbone: given by the method, never by a preset
CAPABILITY_FLAGS = ("force_encoding", "noise_head")


def build_backbone(
    name: str,
    preset: str = "ci",
    dataset: str = "md17",
    force_encoding: bool = False,
    noise_head: bool = False,
    encode_sigma: bool = False,
    **overrides: Any,
):
    """Build backbone ``name`` from its preset with the given capabilities
    (bench.backbones.base.Backbone; the method decides them, never a preset); ``overrides``
    replace preset keys (a ConfigError for an unknown key or a value out of range).
    ``encode_sigma``: the sigma input of backbones that declare ``sigma_encoding``."""
    config = backbone_config(name, preset, dataset, overrides)
    flags = {"force_encoding": force_encoding, "noise_head": noise_head}
    return build_from_config(
        name, config, **flags, **({"encode_sigma": True} if encode_sigma else {})
    )


def build_from_config(name: str, config: Any, **capabilities: Any):
    """Backbone ``name`` built from its resolved ``config``; ``capabilities`` are the
    method-driven switches (``force_encoding``, ``noise_head``, ``encode_sigma``). A
    constructor's ValueError is a ConfigError."""
    cls = resolve(BACKBONES, name, "backbone")
    if capabilities.get("encode_sigma") and not cls.sigma_encoding:
        raise ConfigError(
            f"encode_sigma needs a backbone that encodes sigma; {name!r} does not "
            "(its sigma_encoding is False)"
        )
    try:
        return cls(**capabilities, **dataclasses.asdict(config))
    except ValueError as exc:  # checks that need the network's layout (channel divisors)
        raise ConfigError(f"backbone {name!r}: model.options: {exc}") from exc
