"""The contract between `bench import` and one checkpoint layout.

A layout module (``bench/imports/<layout>.py``) turns the *contents* of a released checkpoint,
already loaded without unpickling arbitrary objects (``torch.load(..., weights_only=True)`` or the
restricted unpickler), into an :class:`ImportedModel`: which dens-bench backbone and options it
is, and a state dict in dens-bench's parameter names. Writing the run directory, evaluation and
the CLI live elsewhere; a layout only maps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from bench.errors import DataError

#: prefixes that training wrappers (DDP, EMA containers) put before parameter names
WRAPPER_PREFIXES = ("module.",)


@dataclass(frozen=True)
class ImportedModel:
    """A released model in dens-bench terms.

    Attributes:
        backbone: dens-bench backbone name (``bench/backbones/registry.py``).
        preset: backbone preset the options start from (e.g. ``"paper"``), or None.
        options: architecture options on top of the preset, read from the checkpoint's config.
        state_dict: parameters and buffers under dens-bench's names.
        weights: which weights were taken: ``"ema"`` or ``"raw"``.
        source: what the checkpoint said about itself (its config, epoch, step), for the record.
        kind: the data kind it was trained on (``md17``, ``oc20``, ``oc22``) when the layout
            fixes it; None to read it from the checkpoint's config.
    """

    backbone: str
    preset: str | None
    options: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    weights: str
    source: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None


def strip_prefixes(
    state: Mapping[str, torch.Tensor], prefixes: tuple[str, ...] = WRAPPER_PREFIXES
) -> dict[str, torch.Tensor]:
    """``state`` with every leading wrapper prefix removed from its keys (repeatedly)."""
    out = {}
    for key, value in state.items():
        name = key
        while name.startswith(prefixes):
            name = name[len(next(p for p in prefixes if name.startswith(p))) :]
        out[name] = value
    return out


def unknown_key(path: str, key: str, layout: str) -> DataError:
    """The error for a checkpoint whose layout is not recognised: names its first unknown key."""
    return DataError(path, key, f"not a parameter of the {layout} layout (first unknown key)")
