"""Backbones: equivariant (and invariant) networks behind one interface (backbones.base)."""

from __future__ import annotations

from backbones.base import (
    ALL_ATOMS,
    AtomInputs,
    AtomOutputs,
    Backbone,
    Capabilities,
    Graph,
    HeadRequest,
)
from backbones.registry import BACKBONES, build_backbone

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
