"""Backbones: equivariant (and invariant) networks behind one interface (backbones.base)."""

from __future__ import annotations

from backbones.base import Backbone, Graph
from backbones.registry import BACKBONES, build_backbone

__all__ = ["BACKBONES", "Backbone", "Graph", "build_backbone"]
