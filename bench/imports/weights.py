"""Choosing the weights of a fairchem-style checkpoint: EMA when present, else the raw ones.

fairchem saves ``state_dict`` (module parameters and buffers, ``module.``-prefixed under DDP)
and, when training kept an exponential moving average, ``ema_state_dict`` in torch_ema's
format: ``shadow_params``, a list in the order of the model's trainable parameters. That list
is matched to the names of ``state_dict`` in order, skipping the constant buffers and the
frozen parameters the reference never averages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from bench.errors import DataError
from bench.imports.base import strip_prefixes
from bench.imports.fairchem_keys import CONSTANT_BUFFERS

#: reference parameters with requires_grad False (absent from torch_ema's shadow_params)
FROZEN = re.compile(r"(^|\.)energy_lin_ref$")


def pick_weights(checkpoint: Mapping[str, Any], path: str) -> tuple[dict[str, torch.Tensor], str]:
    """``(state, "ema" | "raw")``: the EMA weights laid over ``state_dict`` when the checkpoint
    has them, else ``state_dict`` (wrapper prefixes removed); DataError when there is no
    state dict or the EMA does not fit it."""
    state = checkpoint.get("state_dict")
    if not isinstance(state, Mapping) or not state:
        raise DataError(path, "state_dict", "missing or empty: not a fairchem checkpoint")
    state = strip_prefixes(state)
    ema = checkpoint.get("ema_state_dict")
    if not ema:
        return state, "raw"
    shadow = ema.get("shadow_params") if isinstance(ema, Mapping) else None
    if not isinstance(shadow, list | tuple):
        raise DataError(path, "ema_state_dict", "no shadow_params list (torch_ema format)")
    names = [k for k in state if not CONSTANT_BUFFERS.search(k) and not FROZEN.search(k)]
    if len(names) != len(shadow):
        raise DataError(
            path,
            "ema_state_dict.shadow_params",
            f"{len(shadow)} tensors for {len(names)} trainable parameters",
        )
    out = dict(state)
    for name, value in zip(names, shadow, strict=True):
        if tuple(value.shape) != tuple(state[name].shape):
            raise DataError(
                path,
                "ema_state_dict.shadow_params",
                f"shape {tuple(value.shape)} does not fit {name!r}",
            )
        out[name] = value
    return out, "ema"
