"""SO(3)/SO(2) machinery shared by eSCN and EquiformerV2.

- :mod:`layout`: coefficient order for (lmax, mmax), node frame and m-primary edge frame.
- :mod:`wigner`: Wigner-D matrices from rotation matrices; edge frames (edge along +y).
- :mod:`rotation`: per-edge rotations into / out of the edge frame, built once per forward.
- :mod:`edges`: the per-forward edge context (indices, rotations, distance basis) blocks share.
- :mod:`so2`: SO(2) linear maps on the orders m of edge-frame coefficients.
- :mod:`grid`: S2 grid sampling and point-wise (S2) activations.
- :mod:`linear`, :mod:`radial`, :mod:`force_encoding`: per-degree linear maps, radial
  features, and the DeNS force encoding.
"""

from __future__ import annotations

from bench.backbones.so3.edges import FrameEdges
from bench.backbones.so3.force_encoding import ForceEncoder, force_sh
from bench.backbones.so3.grid import S2Grid, default_resolution
from bench.backbones.so3.layout import SHLayout
from bench.backbones.so3.linear import SO3Linear
from bench.backbones.so3.radial import GaussianSmearing, RadialFunction
from bench.backbones.so3.rotation import EdgeRotation, EdgeRotationBuilder
from bench.backbones.so3.so2 import SO2Linear, complex_combine, split_orders
from bench.backbones.so3.wigner import WignerD, edge_frames

__all__ = [
    "FrameEdges",
    "EdgeRotation",
    "EdgeRotationBuilder",
    "ForceEncoder",
    "GaussianSmearing",
    "RadialFunction",
    "S2Grid",
    "SHLayout",
    "SO2Linear",
    "SO3Linear",
    "WignerD",
    "complex_combine",
    "default_resolution",
    "edge_frames",
    "force_sh",
    "split_orders",
]
