"""SEGNN-like backbone: Equiformer without attention and without layer norm (DeNS Table 5).

Messages stay non-linear (gated, two depthwise tensor products); without attention they
are summed over neighbours and divided by ``sqrt(avg_degree)``. This is the variant the
DeNS paper (Table 5) calls "similar to SEGNN"; it is built from the same code as
:class:`bench.backbones.equiformer.Equiformer`, so it takes the same options except ``attention``
and ``layer_norm`` (:class:`SEGNNConfig`). Its presets set ``weight_init: uniform``: the paper
trains this variant with uniform initial weights because normal ones diverged (v1 appendix
D.2; bench.backbones.layers.init says which uniform), while the Equiformer presets keep the
released code's normal ones. Parameters at the paper sizes (MD17 presets):
Lmax 2 3,317,185 (+ DeNS 3,792,449); Lmax 3 5,272,129 (+ DeNS 6,087,745), measured from
this code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from bench.backbones.equiformer import Equiformer, EquiformerCore


@dataclass(frozen=True)
class SEGNNConfig(EquiformerCore):
    """The architecture of :class:`SEGNNLike`: the fields of EquiformerCore, nothing more."""


class SEGNNLike(Equiformer):
    """Equiformer with ``attention=False`` and ``layer_norm=False``; see Equiformer for args."""

    name: ClassVar[str] = "segnn"
    Config: ClassVar[type] = SEGNNConfig

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs, attention=False, layer_norm=False)
