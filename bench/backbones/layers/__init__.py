"""Equivariant building blocks (e3nn) shared by the Equiformer-family backbones."""

from __future__ import annotations

from bench.backbones.layers.attention import GraphAttention, SHEdges
from bench.backbones.layers.drop import EquivariantDropout, GraphDropPath
from bench.backbones.layers.embedding import (
    AtomEmbedding,
    ForceEmbedding,
    SHDegreeEmbedding,
    encode_forces,
)
from bench.backbones.layers.gate import Gate
from bench.backbones.layers.linear import IrrepsLinear
from bench.backbones.layers.norm import EquivariantLayerNorm
from bench.backbones.layers.radial import ExpNormalBasis, RadialProfile
from bench.backbones.layers.tensor_product import DepthwiseTensorProduct

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
