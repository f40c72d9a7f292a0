"""``bench import --from dens``: the DeNS release (atomicarchitects/DeNS, ``eq2_dens_*.pt``).

EquiformerV2 with the DeNS heads (config ``model: equiformer_v2_dens``: force encoding
``force_embedding`` and noise head ``denoising_pos_block``) and eSCN with them
(``escn_dens``), in fairchem's checkpoint format; mapped by bench/imports/fairchem_keys.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.imports.base import ImportedModel
from bench.imports.fairchem import convert_with
from bench.imports.fairchem_keys import (
    EQUIFORMER_V2_RENAMES,
    ESCN_RENAMES,
    equiformer_v2_options,
    escn_options,
)

#: reference model name -> (dens-bench backbone, options reader, renames, DeNS heads)
MODELS = {
    "equiformer_v2_dens": ("equiformer-v2", equiformer_v2_options, EQUIFORMER_V2_RENAMES, True),
    "escn_dens": ("escn", escn_options, ESCN_RENAMES, True),
}


def convert(checkpoint: Mapping[str, Any], path: str) -> ImportedModel:
    """A DeNS release checkpoint (already loaded, weights only) as an ImportedModel."""
    return convert_with(MODELS, "dens", checkpoint, path)
