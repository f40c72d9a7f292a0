"""Initialisation of the paper presets against the reference's (fairchem 1.9 / DeNS).

tests/data/parity/fairchem_init_stats.json.gz holds, per parameter (dens-bench names), the
mean and std of the reference's initial values at the paper size over 3 seeds
(tools/parity/fairchem_init_stats.py wrote it). dens-bench's paper presets, built from the
same seeds, must match every one within sampling error. Slow: each build is a paper-size
model (52M-89M parameters).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STATS = ROOT / "tests" / "data" / "parity" / "fairchem_init_stats.json.gz"
sys.path.insert(0, str(ROOT / "tools" / "parity"))


def _recorded() -> dict:
    return json.loads(gzip.decompress(STATS.read_bytes()))


@pytest.mark.slow
@pytest.mark.parametrize("model_id", sorted(_recorded()))
def test_paper_preset_init_matches_reference(model_id):
    from fairchem_init_stats import mismatches, our_stats

    ref = _recorded()[model_id]["parameters"]
    bad = mismatches(ref, our_stats(model_id))
    assert not bad, "\n".join(bad[:20])
