"""``denoise-no-force``: DeNS with the force encoding switched off (Table 1e index 2, Table 6).

Exactly :class:`bench.methods.dens.DeNS` with every option and every random draw unchanged, except
that ``encoded_forces`` is all zeros: the same generator gives the same corrupted positions,
masks and noise targets as ``dens``. (The released code's "no force encoding" path zeroes
every output of DeNS structures instead; that is not this ablation, see docs/DENS.md section 5.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bench.methods.dens import DenoisingConfig, DeNS


@dataclass(frozen=True)
class DenoiseNoForceConfig(DenoisingConfig):
    """The hyper-parameters of :class:`DenoiseNoForce`: those DeNS shares with it (DeNS's
    ``encoded_force_unit`` has nothing to act on here)."""


class DenoiseNoForce(DeNS):
    """DeNS without force encoding; same arguments as :class:`bench.methods.dens.DeNS`."""

    name = "denoise-no-force"
    Config: ClassVar[type] = DenoiseNoForceConfig
    encode_forces = False
