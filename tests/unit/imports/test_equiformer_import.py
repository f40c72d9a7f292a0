"""The authors' Equiformer MD17 checkpoints load through bench.imports.equiformer and reproduce
the reference's outputs (fixtures written by tools/parity/equiformer_md17.py from
atomicarchitects/equiformer @64cb7866, reduced sizes, float64)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.errors import DataError
from bench.imports.equiformer import convert
from bench.parity import equiformer_outputs, md17_inputs

ROOT = Path(__file__).parents[3]
PARITY = ROOT / "tests" / "data" / "parity"
NAMES = ("l2", "l2_dens", "l3", "l3_dens")
RTOL = 1e-10


def _load(name: str) -> tuple[dict, str]:
    path = PARITY / f"equiformer_{name}.pt"
    return torch.load(path, weights_only=True), str(path)


@pytest.mark.parametrize("name", NAMES)
def test_fixture_reproduces_reference_outputs(name):
    checkpoint, path = _load(name)
    imported = convert(checkpoint, path)
    assert imported.backbone == "equiformer" and imported.weights == "raw"
    dens = name.endswith("dens")
    assert (imported.options["force_encoding"], imported.options["noise_head"]) == (dens, dens)
    assert imported.options["lmax"] == int(name[1])
    expected, spec = checkpoint["parity"]["outputs"], checkpoint["parity"]["inputs"]
    x = md17_inputs(ROOT / spec["file"], spec["frames"], spec["noise_atoms"])
    ours = equiformer_outputs(imported, x)
    assert set(ours) == set(expected)
    for key, ref in expected.items():
        err = (ours[key] - ref).abs().max() / ref.abs().max()
        assert err < RTOL, f"{name} {key}: relative difference {err:.3g}"


def test_wrapper_prefix_stripped_and_ema_named():
    checkpoint, _ = _load("l2")
    state = {f"module.{k}": v for k, v in checkpoint["state_dict"].items()}
    imported = convert({"state_dict": state}, "best_ema_val_epochs@10.pth.tar")
    plain = convert(checkpoint, "best_val_epochs@10.pth.tar")
    assert imported.weights == "ema" and plain.weights == "raw"
    assert imported.state_dict.keys() == plain.state_dict.keys()
    assert all(torch.equal(imported.state_dict[k], plain.state_dict[k]) for k in plain.state_dict)


def test_unknown_layout_names_first_unknown_key():
    checkpoint, _ = _load("l2_dens")
    state = dict(checkpoint["state_dict"])
    state["blocks.0.ga.extra_gain"] = torch.ones(3)
    with pytest.raises(DataError, match=r"x\.pt: field 'blocks\.0\.ga\.extra_gain'.*unknown key"):
        convert({"state_dict": state}, "x.pt")
    with pytest.raises(DataError, match="field 'state_dict'"):
        convert({"model": state}, "x.pt")
    fairchem_like = {"module.backbone.sphere_embedding.weight": torch.ones(2), **state}
    with pytest.raises(DataError, match="'backbone.sphere_embedding.weight'.*unknown key"):
        convert({"state_dict": fairchem_like}, "x.pt")


def test_wrong_shape_is_refused():
    checkpoint, _ = _load("l2")
    state = dict(checkpoint["state_dict"])
    state["blocks.0.ga.proj.tp.weight"] = state["blocks.0.ga.proj.tp.weight"][:-1]
    with pytest.raises(DataError, match="blocks.0.ga.proj.tp.weight"):
        convert({"state_dict": state}, "x.pt")
