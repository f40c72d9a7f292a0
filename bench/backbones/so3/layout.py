"""Layout of real spherical-harmonic coefficients truncated at degree ``lmax`` and order ``mmax``.

Node features are ``[N, (lmax + 1)**2, C]`` in e3nn's order: degree-major, and inside degree
``l`` the orders ``m = -l..l`` (coefficient ``l**2 + l + m``). The l = 1 block is ``(x, y, z)``
and the Wigner-D matrix of l = 1 is the rotation matrix itself.

In an edge frame (edge along +y, the axis e3nn's ``wigner_D`` rotates about with the angles
alpha and gamma) only orders ``|m| <= mmax`` are kept, in "m-primary" order:
``m = 0`` for ``l = 0..lmax``, then for each ``m = 1..mmax`` the ``+m`` coefficients for
``l = m..lmax`` followed by the ``-m`` coefficients for the same degrees. A rotation by
``phi`` about the edge turns the pair ``(c_{l,+m}, c_{l,-m})`` like the complex number
``c_{l,+m} + i c_{l,-m}`` times ``exp(i m phi)``, which is what SO(2) convolutions use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

#: largest degree supported (Wigner-D by recursion is exact for any l; this bounds memory).
MAX_LMAX = 10


@dataclass(frozen=True)
class SHLayout:
    """Index bookkeeping for coefficients up to degree ``lmax`` and edge-frame order ``mmax``."""

    lmax: int
    mmax: int

    def __post_init__(self) -> None:
        if not 0 <= self.lmax <= MAX_LMAX:
            raise ValueError(f"lmax must be in [0, {MAX_LMAX}], got {self.lmax!r}")
        if not 0 <= self.mmax <= self.lmax:
            raise ValueError(f"mmax must be in [0, lmax={self.lmax}], got {self.mmax!r}")

    @property
    def dim(self) -> int:
        """Number of coefficients of a node feature, ``(lmax + 1)**2``."""
        return (self.lmax + 1) ** 2

    @property
    def m_sizes(self) -> tuple[int, ...]:
        """Number of degrees carrying order m, for m = 0..mmax: ``lmax - m + 1``."""
        return tuple(self.lmax - m + 1 for m in range(self.mmax + 1))

    @property
    def reduced_dim(self) -> int:
        """Number of edge-frame coefficients: m = 0 once, each m > 0 twice (+m and -m)."""
        return self.m_sizes[0] + 2 * sum(self.m_sizes[1:])

    @cached_property
    def _reduced(self) -> tuple[int, ...]:
        order = [l * l + l for l in range(self.lmax + 1)]
        for m in range(1, self.mmax + 1):
            for sign in (1, -1):
                order += [l * l + l + sign * m for l in range(m, self.lmax + 1)]
        return tuple(order)

    def degree_index(self) -> Tensor:
        """long [(lmax + 1)**2]: the degree l of every coefficient."""
        return torch.repeat_interleave(
            torch.arange(self.lmax + 1), torch.tensor([2 * l + 1 for l in range(self.lmax + 1)])
        )

    def reduced_index(self) -> Tensor:
        """long [reduced_dim]: the e3nn coefficient index of each m-primary coefficient."""
        return torch.tensor(self._reduced, dtype=torch.long)

    def reduced_positions(self, l: int) -> Tensor:
        """long [2 min(l, mmax) + 1]: positions in the m-primary order of the kept coefficients
        of degree ``l``, ordered by their e3nn index (m = -l..l)."""
        if not 0 <= l <= self.lmax:
            raise ValueError(f"l must be in [0, lmax={self.lmax}], got {l!r}")
        kept = [
            (e3nn, pos) for pos, e3nn in enumerate(self._reduced) if l * l <= e3nn < (l + 1) ** 2
        ]
        return torch.tensor([pos for _, pos in sorted(kept)], dtype=torch.long)

    def truncation_rescale(self) -> Tensor:
        """float64 [(lmax + 1)**2]: ``sqrt((2l + 1) / (2 mmax + 1))`` for l > mmax, else 1.

        EquiformerV2 multiplies the degrees that lost orders to the m-truncation by this factor
        when leaving the edge frame and on its edge-frame S2 grids.
        """
        scale = [
            math.sqrt((2 * l + 1) / (2 * self.mmax + 1)) if l > self.mmax else 1.0
            for l in range(self.lmax + 1)
        ]
        return torch.tensor(scale, dtype=torch.float64)[self.degree_index()]
