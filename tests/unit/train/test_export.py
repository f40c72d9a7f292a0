"""`bench export` files: self-contained, weights_only, the same predictions as the run; the ASE
calculator on them: conservative flag, direct-force warning, strain-derivative stress."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_stress

from bench.calculator import DensBenchCalculator
from bench.data.torch_data import collate
from bench.errors import DataError
from bench.export import export_run, load_model, read_model_file
from bench.train.setup import build_model, build_run_method


@pytest.fixture(scope="module")
def model_file(trained_run, tmp_path_factory):
    return export_run(trained_run, tmp_path_factory.mktemp("export") / "model.pt")


def _ethanol(periodic: bool):
    atoms = molecule("CH3CH2OH")
    if periodic:
        atoms.cell = [[5.0, 0.3, 0.0], [0.0, 4.6, 0.2], [0.1, 0.0, 4.8]]
        atoms.pbc = True
        atoms.center()
    return atoms


def test_model_file_predicts_exactly_like_the_run(trained_run, model_file):
    payload = torch.load(model_file, map_location="cpu", weights_only=True)
    assert payload["format"] == "dens-bench-model" and payload["run_id"] == trained_run.name
    from bench.calculator import atoms_to_inputs

    batch = collate([atoms_to_inputs(_ethanol(False))])
    from_run, _ = load_model(trained_run)
    from_file, cfg = load_model(model_file)
    assert cfg.method.name == "dens"
    a, b = from_run(batch), from_file(batch)
    assert torch.equal(a["energy"], b["energy"]) and torch.equal(a["forces"], b["forces"])


def test_other_files_are_refused_naming_the_field(tmp_path):
    buffer = io.BytesIO()
    torch.save({"format": "something-else"}, buffer)
    (tmp_path / "other.pt").write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="'format'"):
        read_model_file(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="not a dens-bench model file"):
        read_model_file(tmp_path / "junk.pt")


def test_calculator_stress_is_the_strain_derivative_of_its_energy(model_file):
    calc = DensBenchCalculator(model_file)
    assert calc.conservative
    atoms = _ethanol(True)
    atoms.calc = calc
    stress = atoms.get_stress()
    numeric = calculate_numerical_stress(atoms, eps=1e-3, force_consistent=False)
    np.testing.assert_allclose(stress, numeric, atol=2e-3 * np.abs(numeric).max())
    molecule_atoms = _ethanol(False)
    molecule_atoms.calc = calc
    assert molecule_atoms.get_forces().shape == (9, 3)
    with pytest.raises(PropertyNotImplementedError, match="periodic"):
        molecule_atoms.get_stress()


def test_direct_force_models_warn_and_give_no_stress(model_file, tmp_path):
    payload = read_model_file(model_file)
    cfg = payload["config"]
    cfg["model"]["options"] = {"force_mode": "direct"}
    from bench.config import RunConfig
    from bench.train.normalization import Normalization

    run_cfg = RunConfig.from_dict(cfg)
    norm = Normalization.from_dict(payload["normalization"])
    direct = build_model(run_cfg, build_run_method(run_cfg), norm)
    buffer = io.BytesIO()
    torch.save(payload | {"config": cfg, "state_dict": direct.state_dict()}, buffer)
    (tmp_path / "direct.pt").write_bytes(buffer.getvalue())
    with pytest.warns(UserWarning, match="does not conserve energy"):
        calc = DensBenchCalculator(tmp_path / "direct.pt")
    assert not calc.conservative
    atoms = _ethanol(True)
    atoms.calc = calc
    with pytest.raises(PropertyNotImplementedError, match="direct-force"):
        atoms.get_stress()
