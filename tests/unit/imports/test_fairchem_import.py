"""`bench import` of fairchem / DeNS checkpoints reproduces the authors' models.

The fixtures in tests/data/parity/fairchem_<id>.{pt,npz,json} are reduced reference models
(fairchem 1.9 EquiformerV2; DeNS EquiformerV2 and eSCN with the DeNS heads) saved in the
reference's checkpoint layout, with the reference's outputs on a fixed OC20 frame; they were
written by tools/parity/fairchem_fixtures.py (each .json names commit, config and command).
Here each one goes through the importer into a run directory, is loaded the way `bench eval`
loads runs, and must give the reference's energy, forces and noise to 1e-10 relative.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.io import read

from bench.errors import ConfigError, DataError
from bench.imports.fairchem_keys import CONSTANT_BUFFERS
from bench.imports.registry import import_checkpoint, load_checkpoint, resolve_layout

ROOT = Path(__file__).resolve().parents[3]
PARITY = ROOT / "tests" / "data" / "parity"
FRAME = ROOT / "tests" / "data" / "oc20_relax" / "random1000156.traj"
sys.path.insert(0, str(ROOT / "tools" / "parity"))
import fairchem_compare  # noqa: E402

#: fixture id -> layout of `bench import --from`
FIXTURES = {"eq2": "fairchem", "eq2_dens": "dens", "escn_dens": "dens"}
TOLERANCE = 1e-10


def _imported(tmp_path: Path, model_id: str):
    path = PARITY / f"fairchem_{model_id}.pt"
    return import_checkpoint(FIXTURES[model_id], path, tmp_path / "run", dtype="float64")


@pytest.mark.parametrize("model_id", list(FIXTURES))
def test_fixture_reproduces_reference(tmp_path, model_id):
    run, imported = _imported(tmp_path, model_id)
    arrays = dict(np.load(PARITY / f"fairchem_{model_id}.npz"))
    stats = json.loads((run / "stats.json").read_text())
    dens = "denoise_output" in arrays
    ours = fairchem_compare.our_outputs(run, read(FRAME, 0), arrays, dens)
    ref = fairchem_compare.reference_in_units(arrays, stats)
    diffs = fairchem_compare.differences(ref, ours, arrays["noise_mask"].astype(bool), stats)
    assert set(diffs) == (
        {"energy", "forces"} | ({"denoise_energy", "noise", "denoise_forces"} if dens else set())
    )
    worst = {k: v["max_rel"] for k, v in diffs.items() if v["max_rel"] > TOLERANCE}
    assert not worst, worst


def test_run_directory_records_the_import(tmp_path):
    run, imported = _imported(tmp_path, "escn_dens")
    record = json.loads((run / "metrics.json").read_text())
    assert record["status"] == "imported"
    assert record["scale"]["imported_from"]["weights"] == "raw" == imported.weights
    assert record["config"]["method"]["name"] == "dens"
    assert record["config"]["model"]["options"]["neighbor_rule"] == "fairchem-strict"
    # normaliser from the checkpoint's config (DeNS: dataset.train.transforms.normalizer)
    stats = json.loads((run / "stats.json").read_text())
    assert stats["energy_std"] == pytest.approx(2.887317180633545)


def test_ema_weights_are_preferred():
    """An ema_state_dict in torch_ema's format (shadow_params in the order of the trainable
    parameters: the state dict's order without constant tables and frozen tensors) replaces
    each parameter by its shadow."""
    ckpt = load_checkpoint(PARITY / "fairchem_escn_dens.pt")
    names = [k for k in ckpt["state_dict"] if not CONSTANT_BUFFERS.search(k[len("module.") :])]
    shadow = [ckpt["state_dict"][k] + i for i, k in enumerate(names)]
    convert = resolve_layout("dens")
    ema = convert({**ckpt, "ema_state_dict": {"decay": 0.999, "shadow_params": shadow}}, "x.pt")
    raw = convert(ckpt, "x.pt")
    assert (ema.weights, raw.weights) == ("ema", "raw")
    shifts = set()
    for key, value in raw.state_dict.items():
        delta = (ema.state_dict[key] - value).double()
        shift = round(float(delta.flatten()[0]))
        assert torch.allclose(delta, torch.full_like(delta, shift), atol=1e-3), key
        shifts.add(shift)  # one whole shadow per parameter
    assert shifts == set(range(len(names)))
    with pytest.raises(DataError, match="shadow_params"):
        convert({**ckpt, "ema_state_dict": {"shadow_params": shadow[:-1]}}, "x.pt")


def test_constant_tables_are_skipped_other_unknown_keys_refused():
    ckpt = load_checkpoint(PARITY / "fairchem_eq2.pt")
    convert = resolve_layout("fairchem")
    state = dict(ckpt["state_dict"])
    state["module.SO3_grid.0.0.to_grid_mat"] = torch.zeros(3)  # released files hold these
    assert convert({**ckpt, "state_dict": state}, "x.pt").backbone == "equiformer-v2"
    state["module.blocks.0.mystery.weight"] = torch.zeros(3)
    with pytest.raises(DataError, match=r"x.pt: field 'blocks.0.mystery.weight'"):
        convert({**ckpt, "state_dict": state}, "x.pt")


def test_hydra_layout_of_fairchem_1x(tmp_path):
    """fairchem 1.x's hydra names (backbone. / output_heads.) map onto the same model."""
    ckpt = load_checkpoint(PARITY / "fairchem_eq2.pt")
    legacy = resolve_layout("fairchem")(ckpt, "x.pt")
    state = {}
    for key, value in ckpt["state_dict"].items():
        name = key.removeprefix("module.")
        name = (
            "output_heads.forces." + name
            if name.startswith("force_block")
            else "output_heads.energy." + name
            if name.startswith("energy_block")
            else "backbone." + name
        )
        state["module." + name] = value
    model = {
        "name": "hydra",
        "backbone": {"model": "equiformer_v2_backbone", **ckpt["config"]["model_attributes"]},
    }
    hydra = resolve_layout("fairchem")(
        {**ckpt, "state_dict": state, "config": {**ckpt["config"], "model": model}}, "x.pt"
    )
    assert hydra.options == legacy.options
    assert all(torch.equal(hydra.state_dict[k], v) for k, v in legacy.state_dict.items())


def test_wrong_layout_and_unknown_layout(tmp_path):
    with pytest.raises(DataError, match="'equiformer_v2' is not a dens model"):
        import_checkpoint("dens", PARITY / "fairchem_eq2.pt", tmp_path / "a")
    with pytest.raises(ConfigError, match="Did you mean 'fairchem'"):
        resolve_layout("fairchen")
    assert not (tmp_path / "a").exists()


def test_unsupported_option_names_the_field():
    ckpt = load_checkpoint(PARITY / "fairchem_eq2.pt")
    attrs = {**ckpt["config"]["model_attributes"], "use_gate_act": True}
    with pytest.raises(DataError, match="config.model.use_gate_act"):
        resolve_layout("fairchem")(
            {**ckpt, "config": {**ckpt["config"], "model_attributes": attrs}}, "x.pt"
        )


def test_missing_file_named(tmp_path):
    with pytest.raises(DataError, match="missing.pt: no such checkpoint file"):
        import_checkpoint("dens", tmp_path / "missing.pt", tmp_path / "run")


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "config": {"model": object.__new__(_Payload)}}, path)
    with pytest.raises(DataError, match="evil.pt: refused"):
        load_checkpoint(path)


class _Payload:
    """An arbitrary class: loading it would need unpickling code objects."""


def test_oc22_energy_references_become_atom_refs(tmp_path):
    """DeNS OC22 checkpoints hold energy_lin_ref = E_ref / E_std (frozen, per element); the
    run's atom_ref must be E_ref (eV), and the dataset OC22."""
    ckpt = load_checkpoint(PARITY / "fairchem_eq2_dens.pt")
    lin_ref = torch.zeros(90)
    lin_ref[1], lin_ref[11] = 0.5, -0.25
    ckpt["state_dict"]["module.energy_lin_ref"] = lin_ref
    path = tmp_path / "oc22.pt"
    torch.save(ckpt, path)
    run, _ = import_checkpoint("dens", path, tmp_path / "run", dtype="float64")
    stats = json.loads((run / "stats.json").read_text())
    std = stats["energy_std"]
    assert stats["atom_ref"] == pytest.approx({"1": 0.5 * std, "11": -0.25 * std})
    assert json.loads((run / "metrics.json").read_text())["config"]["data"]["kind"] == "oc22"
