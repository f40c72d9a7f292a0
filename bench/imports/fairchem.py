"""``bench import --from fairchem``: fairchem's EquiformerV2 and eSCN S2EF checkpoints.

Legacy single-model checkpoints (config ``model: equiformer_v2`` / ``escn`` with
``model_attributes``) and fairchem 1.x hydra checkpoints (``backbone`` + ``output_heads``) both
load; the architecture comes from the checkpoint's own config (bench/imports/fairchem_keys.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.errors import DataError
from bench.imports.base import ImportedModel
from bench.imports.fairchem_keys import (
    EQUIFORMER_V2_RENAMES,
    ESCN_RENAMES,
    equiformer_v2_options,
    escn_options,
    model_config,
    rename_state,
)
from bench.imports.weights import pick_weights

#: reference model name -> (dens-bench backbone, options reader, renames, DeNS heads)
MODELS = {
    "equiformer_v2": ("equiformer-v2", equiformer_v2_options, EQUIFORMER_V2_RENAMES, False),
    "escn": ("escn", escn_options, ESCN_RENAMES, False),
}


def convert(checkpoint: Mapping[str, Any], path: str) -> ImportedModel:
    """A fairchem checkpoint (already loaded, weights only) as an ImportedModel."""
    return convert_with(MODELS, "fairchem", checkpoint, path)


def convert_with(
    models: Mapping[str, tuple], layout: str, checkpoint: Mapping[str, Any], path: str
) -> ImportedModel:
    """The shared conversion of the fairchem-style layouts (``fairchem``, ``dens``)."""
    from bench.backbones.registry import build_backbone

    config = checkpoint.get("config")
    if not isinstance(config, Mapping):
        raise DataError(path, "config", "missing: the checkpoint must carry its config")
    name, attrs = model_config(config, path)
    if name not in models:
        raise DataError(
            path,
            "config.model",
            f"{name!r} is not a {layout} model; known: {', '.join(sorted(models))}",
        )
    backbone, read_options, renames, dens = models[name]
    options = read_options(attrs, path)
    flags = {"force_encoding": dens, "noise_head": dens}
    expected = build_backbone(backbone, "paper", "oc20", **flags, **options).state_dict()
    state, weights = pick_weights(checkpoint, path)
    source = {
        "layout": layout,
        "model": name,
        "config": dict(config),
        "epoch": checkpoint.get("epoch"),
        "step": checkpoint.get("step"),
    }
    lin_ref = next((state.pop(k) for k in list(state) if k.endswith("energy_lin_ref")), None)
    if lin_ref is not None:  # OC22: per-element references over energy_std (DeNS README)
        source["energy_lin_ref"] = [float(v) for v in lin_ref.flatten()]
    return ImportedModel(
        backbone=backbone,
        preset="paper",
        options=options,
        state_dict=rename_state(state, renames, expected, path, layout),
        weights=weights,
        source=source,
    )
