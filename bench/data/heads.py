"""The head request: which atoms a model's vector outputs must get right.

Shared by ``methods`` (whose :class:`bench.methods.base.Prepared` carries one) and ``backbones``
(whose forward takes one), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class HeadRequest:
    """The atoms whose vector outputs are training targets.

    A head may compute its output only at the requested atoms and return zeros elsewhere;
    None means every atom (evaluation, the calculator, export).

    Attributes:
        force_atoms: bool [N]; atoms whose direct force is a target, or None (every atom).
        noise_atoms: bool [N]; atoms whose predicted noise is a target, or None (every atom).
    """

    force_atoms: Tensor | None = None
    noise_atoms: Tensor | None = None


#: every output at every atom
ALL_ATOMS = HeadRequest()

__all__ = ["ALL_ATOMS", "HeadRequest"]
