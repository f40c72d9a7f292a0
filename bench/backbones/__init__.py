"""Backbones: equivariant (and invariant) networks behind one interface (bench.backbones.base)."""

from __future__ import annotations

from bench.backbones.base import (
    ALL_ATOMS,
    AtomInputs,
    AtomOutputs,
    Backbone,
    Capabilities,
    Graph,
    HeadRequest,
)
from bench.backbones.registry import BACKBONES, build_backbone

__all__ = [
    "ALL_ATOMS",
    "BACKBONES",
    "AtomInputs",
    "AtomOutputs",
    "Backbone",
    "Capabilities",
    "Graph",
    "HeadRequest",
    "build_backbone",
]
