"""Checkpoints of plain and DeNS models written before the capability flags still load: same
parameter and buffer names, same shapes (tests/data/checkpoint_keys.json, from commit f2274f4).
The tensor products' couplings and the attention's head map were stored then; they are not
state any more, and the old copies are ignored on load."""

from __future__ import annotations

import json
import re

import pytest
import torch

from bench.backbones.registry import build_backbone
from tests.conftest import DATA_DIR

MANIFEST = DATA_DIR / "checkpoint_keys.json"
#: the method whose models the manifest lists -> the capabilities it builds now
FLAGS = {
    "none": {"force_encoding": False, "noise_head": False},
    "dens": {"force_encoding": True, "noise_head": True},
}

#: constants that state dicts carried until they stopped being stored: the tensor products'
#: couplings and the attention's head map
LEGACY = re.compile(r"(.+\.)?(gather|head_index|(coupling|spread)_\d+)")


def manifest(name: str, dens: bool) -> dict[str, list[int]]:
    """``{state_dict key: shape}`` of backbone ``name``'s ci md17 model."""
    flags = FLAGS["dens" if dens else "none"]
    model = build_backbone(name, "ci", "md17", **flags)
    return {k: list(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("entry", sorted(json.loads(MANIFEST.read_text())))
def test_old_state_dicts_load_into_the_models_built_now(entry):
    name, method = entry.split("/")
    expected = json.loads(MANIFEST.read_text())[entry]
    ours = manifest(name, method == "dens")
    assert ours == {k: v for k, v in expected.items() if not LEGACY.fullmatch(k)}
    model = build_backbone(name, "ci", "md17", **FLAGS[method])
    old = {k: torch.zeros(shape) for k, shape in expected.items()}
    model.load_state_dict(old)  # strict: no missing and no unexpected key
