"""EquiformerV2 backbone (graph attention on SO(2) convolutions) with DeNS extensions."""

from __future__ import annotations

from bench.backbones.equiformer_v2.model import EquiformerV2, EquiformerV2Config

__all__ = ["EquiformerV2", "EquiformerV2Config"]
