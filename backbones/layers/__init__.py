"""Equivariant building blocks (e3nn) shared by the Equiformer-family backbones."""

from __future__ import annotations

from backbones.layers.attention import GraphAttention, SHEdges
from backbones.layers.drop import EquivariantDropout, GraphDropPath
from backbones.layers.embedding import (
    AtomEmbedding,
    ForceEmbedding,
    SHDegreeEmbedding,
    encode_forces,
)
from backbones.layers.gate import Gate
from backbones.layers.linear import IrrepsLinear
from backbones.layers.norm import EquivariantLayerNorm
from backbones.layers.radial import ExpNormalBasis, RadialProfile
from backbones.layers.tensor_product import DepthwiseTensorProduct

__all__ = [
    "AtomEmbedding",
    "DepthwiseTensorProduct",
    "SHDegreeEmbedding",
    "SHEdges",
    "EquivariantDropout",
    "EquivariantLayerNorm",
    "ExpNormalBasis",
    "ForceEmbedding",
    "Gate",
    "GraphAttention",
    "GraphDropPath",
    "IrrepsLinear",
    "RadialProfile",
    "encode_forces",
]
