"""bench.torchscript: traced energy models of every gradient-force backbone reproduce the eager
model's energy and forces on shipped rMD17 frames after a save and load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ase import Atoms

from bench.backbones.registry import build_backbone
from bench.calculator import TorchScriptCalculator, atoms_to_inputs
from bench.data.rmd17 import read_rmd17_file
from bench.data.torch_data import collate
from bench.errors import ConfigError, DataError
from bench.torchscript import load_torchscript, trace_energy, write_torchscript

DATA = Path(__file__).resolve().parents[1] / "data" / "rmd17"


def _frames() -> list:
    ethanol = read_rmd17_file(DATA / "rmd17_ethanol_test_01.npz", "ethanol", "revised")
    aspirin = read_rmd17_file(DATA / "rmd17_aspirin_test_01.npz", "aspirin", "revised")
    return [ethanol[0], aspirin[0], ethanol[1]]  # N, E and B unlike the trace's examples


def _meta(model) -> dict:
    return {
        "dtype": "float32",
        "cutoff": model.cutoff,
        "max_neighbors": model.max_neighbors,
        "neighbor_rule": model.neighbor_rule,
    }


@pytest.mark.parametrize("name", ["schnet", "equiformer", "segnn", "escn", "equiformer-v2"])
def test_saved_trace_matches_the_eager_model(name, tmp_path):
    torch.manual_seed(0)
    model = build_backbone(name, "ci", "md17").eval()
    atom_ref = torch.zeros(119, dtype=torch.float64)
    atom_ref[[1, 6, 8]] = torch.tensor([-13.6, -1029.5, -2041.0], dtype=torch.float64)
    model.set_normalization(-120.0, 3.0, 2.5, atom_ref)
    traced = trace_energy(model, name, _meta(model))
    loaded = load_torchscript(write_torchscript(traced, _meta(model), tmp_path / "m.ts.pt"))
    batch = collate(_frames())
    with torch.no_grad():
        want = model(batch)
    natoms = torch.bincount(batch.batch)
    energy, forces = loaded(batch.z, batch.pos, natoms)
    assert energy.dtype == torch.float64 and energy.shape == (3,)
    torch.testing.assert_close(energy, want["energy"], rtol=1e-6, atol=0)
    scale = float(want["forces"].abs().max())
    torch.testing.assert_close(forces, want["forces"], rtol=1e-6, atol=1e-6 * scale)


def test_direct_force_models_are_refused():
    model = build_backbone("schnet", "ci", "md17", force_mode="direct")
    with pytest.raises(ConfigError, match="schnet predicts forces directly"):
        trace_energy(model, "schnet", _meta(model))


def test_a_weights_file_is_not_a_torchscript_file(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"format": "dens-bench-model"}, path)
    with pytest.raises(DataError, match="not a dens-bench-torchscript file"):
        load_torchscript(path)


def _schnet_file(tmp_path) -> tuple:
    torch.manual_seed(1)
    model = build_backbone("schnet", "ci", "md17").eval()
    model.set_normalization(-97_000.0, 2.0, 1.5)
    path = write_torchscript(
        trace_energy(model, "schnet", _meta(model)), _meta(model), tmp_path / "m.ts.pt"
    )
    return model, path


def test_periodic_images_and_the_ase_calculator_match_the_eager_model(tmp_path):
    """A 5 Angstrom box below SchNet's 5 Angstrom cutoff: edges to periodic images (non-zero
    shifts) are part of the graph; the calculator gives the eager model's energy and forces."""
    model, path = _schnet_file(tmp_path)
    frame = _frames()[0]
    atoms = Atoms(numbers=frame.z, positions=frame.pos, cell=[5.0, 5.5, 6.0], pbc=True)
    atoms.calc = TorchScriptCalculator(path)
    with torch.no_grad():
        want = model(collate([atoms_to_inputs(atoms)]))
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert energy == pytest.approx(float(want["energy"][0]), rel=1e-6)
    scale = float(want["forces"].abs().max())
    assert forces == pytest.approx(want["forces"].double().numpy(), rel=1e-6, abs=1e-6 * scale)
    molecule = Atoms(numbers=frame.z, positions=frame.pos)
    molecule.calc = TorchScriptCalculator(path)
    assert abs(molecule.get_potential_energy() - energy) > 1e-4  # the images count
