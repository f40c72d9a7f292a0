"""DensBenchCalculator serves a run's model exactly as evaluation does; relaxations respect
FixAtoms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase.io import read

from bench.calculator import DensBenchCalculator, atoms_to_inputs
from bench.errors import ConfigError
from bench.eval import predict
from bench.records import RunRecord, read_record
from bench.relax import (
    RelaxTarget,
    read_targets,
    record_is2re,
    relax_one,
    relax_run,
    run_trajectory_names,
    summarize,
)
from bench.train.setup import load_run_model, load_split, to_data_list
from tests.unit.oc20.conftest import TRAJ, positions_of_fixed


@pytest.fixture(scope="module")
def calc(trained_run):
    return DensBenchCalculator(trained_run)


def _atoms_of(run_dir: Path, structure_id: str):
    """The ASE frame ``"<file>:<frame>"`` of the run's data folder."""
    name, frame = structure_id.split(":")
    return read(Path(load_run_model(run_dir)[1].data.path) / name, index=int(frame))


def test_energy_and_forces_equal_evaluation_predictions(trained_run, calc):
    model, cfg = load_run_model(trained_run)
    split = load_split(cfg.data)
    structures = split.test[:2]
    data = to_data_list(structures, cfg.dtype)
    expected = predict(model, data, 2, torch.device("cpu"))
    offsets = np.cumsum([0] + [d.num_nodes for d in data])
    for k, s in enumerate(structures):
        atoms = _atoms_of(trained_run, s.id)
        atoms.calc = calc
        assert atoms.get_potential_energy() == pytest.approx(
            float(expected.energy_pred[k]), abs=1e-6
        )
        rows = expected.forces_pred[offsets[k] : offsets[k + 1]].double().numpy()
        np.testing.assert_allclose(atoms.get_forces(apply_constraint=False), rows, atol=1e-5)
        constrained = atoms.get_forces()  # FixAtoms applied by ASE: fixed rows are zero
        fixed = atoms.constraints[0].get_indices()
        assert (constrained[fixed] == 0).all() and np.abs(constrained).sum() > 0


def test_model_is_built_once_and_results_cached(calc, shipped_atoms):
    model = calc.model
    calls = calc.n_calls
    atoms = shipped_atoms[0].copy()
    atoms.calc = calc
    atoms.get_potential_energy()
    atoms.get_forces()  # same positions: served from ASE's cache
    atoms.positions[40] += 0.05
    atoms.get_potential_energy()
    assert calc.n_calls == calls + 2 and calc.model is model


def test_inputs_carry_fixed_mask_and_rebuilt_tags(shipped_atoms):
    s = atoms_to_inputs(shipped_atoms[0])
    assert s.periodic and s.fixed.sum() == 36 and s.energy == 0.0
    assert list(np.bincount(s.tags)) == [36, 12, 1]  # subsurface, surface, the H adsorbate


def test_relax_never_moves_fixed_atoms(calc):
    (target,) = read_targets(TRAJ.parent)
    relaxed, row = relax_one(target, calc, "fire", fmax=1e-4, steps=3)
    start = target.initial
    np.testing.assert_array_equal(positions_of_fixed(relaxed), positions_of_fixed(start))
    free = np.setdiff1d(np.arange(len(start)), start.constraints[0].get_indices())
    assert np.abs(relaxed.positions[free] - start.positions[free]).max() > 0
    assert row["steps"] == 3 and not row["converged"] and row["n_free"] == 13
    assert relaxed.get_potential_energy() == row["energy_relaxed_pred_ev"]


def test_targets_take_dft_references_from_first_and_last_frames(shipped_atoms):
    (target,) = read_targets(TRAJ.parent)
    assert target.energy_initial_dft == shipped_atoms[0].get_potential_energy()
    assert target.energy_relaxed_dft == shipped_atoms[-1].get_potential_energy()
    np.testing.assert_array_equal(target.initial.positions, shipped_atoms[0].positions)
    assert target.initial.calc is None and len(target.initial.constraints) == 1


def test_summary_hand_computed():
    rows = [
        {
            "converged": True,
            "steps": 10,
            "energy_initial_pred_ev": -1.0,
            "energy_relaxed_pred_ev": -2.0,
            "energy_initial_dft_ev": -1.5,
            "energy_relaxed_dft_ev": -2.01,
        },  # |dE| 0.01 (within 0.02); relaxation -1 vs -0.51
        {
            "converged": False,
            "steps": 200,
            "energy_initial_pred_ev": 0.0,
            "energy_relaxed_pred_ev": -0.5,
            "energy_initial_dft_ev": 0.2,
            "energy_relaxed_dft_ev": -0.2,
        },  # |dE| 0.3; relaxation -0.5 vs -0.4
        {
            "converged": True,
            "steps": 30,
            "energy_initial_pred_ev": 0.0,
            "energy_relaxed_pred_ev": -0.5,
            "energy_initial_dft_ev": None,
            "energy_relaxed_dft_ev": None,
        },  # no reference
    ]
    out = summarize(rows)
    assert out == pytest.approx(
        {
            "n_structures": 3,
            "n_with_reference": 2,
            "n_converged": 2,
            "fraction_converged": 2 / 3,
            "mean_steps": 80.0,
            "is2re_energy_mae_mev": 155.0,
            "is2re_ewt": 0.5,
            "relaxation_energy_mae_mev": 1000 * (0.49 + 0.1) / 2,
        }
    )


def test_single_frame_file_has_no_reference(tmp_path, shipped_atoms):
    from ase.io import write

    write(tmp_path / "one.extxyz", shipped_atoms[2])
    (target,) = read_targets(tmp_path)
    assert isinstance(target, RelaxTarget) and target.energy_relaxed_dft is None


def test_relax_run_takes_the_held_out_trajectories(trained_run, tmp_path):
    from bench.data.trajectory_split import split_names

    cfg = load_run_model(trained_run)[1]
    report = relax_run(
        trained_run,
        optimizer="lbfgs",
        fmax=1e-6,
        steps=2,
        output=tmp_path,
        split="test",
        record_split="test",
    )
    names = sorted(p.name for p in Path(cfg.data.path).iterdir())
    test = split_names(names, 5, 0, cfg.data.split_seed)[2]
    assert [r["name"] for r in report["results"]] == test
    assert report["energy_kind"] == "total" and report["summary"]["n_with_reference"] == 1
    assert read(tmp_path / "relaxed.extxyz").info["name"] == test[0]
    recorded = read_record(trained_run).metrics["test"]  # where bench report reads IS2RE
    assert recorded["is2re_n_structures"] == 1 and recorded["is2re_fraction_converged"] == 0.0
    assert recorded["is2re_energy_mae_mev"] == report["summary"]["is2re_energy_mae_mev"]
    assert recorded["energy_mae_mev"] > 0  # the S2EF test metrics are kept


def _row(subsplit, e_pred, e_dft, converged=True):
    return {
        "subsplit": subsplit,
        "converged": converged,
        "steps": 5,
        "energy_initial_pred_ev": 0.0,
        "energy_relaxed_pred_ev": e_pred,
        "energy_initial_dft_ev": None if e_dft is None else 0.0,
        "energy_relaxed_dft_ev": e_dft,
    }


def _fake_run(tmp_path) -> Path:
    RunRecord(
        run_id="r", status="done", config={}, seed=0, metrics={"test": {"energy_mae_mev": 1.0}}
    ).write(tmp_path)
    return tmp_path


def test_record_is2re_overall_and_per_subsplit(tmp_path):
    run = _fake_run(tmp_path)
    added = record_is2re(run, "test", [_row(None, -1.0, -1.5), _row("id", 2.0, 2.01, False)])
    metrics = read_record(run).metrics
    assert set(added) == {"test", "test/id"}
    assert metrics["test"] == pytest.approx(
        {
            "energy_mae_mev": 1.0,
            "is2re_energy_mae_mev": 255.0,
            "is2re_ewt": 0.5,
            "is2re_fraction_converged": 0.5,
            "is2re_relaxation_energy_mae_mev": 255.0,
            "is2re_n_structures": 2,
        }
    )
    assert metrics["test/id"]["is2re_energy_mae_mev"] == pytest.approx(10.0)


def test_record_is2re_one_subsplit_only_and_no_none_values(tmp_path):
    run = _fake_run(tmp_path)
    record_is2re(run, "test", [_row("ood", 1.0, None)])
    metrics = read_record(run).metrics
    assert metrics["test"] == {"energy_mae_mev": 1.0}  # untouched: OC22 ood relaxed alone
    assert metrics["test/ood"] == {"is2re_fraction_converged": 1.0, "is2re_n_structures": 1}


def test_relax_split_needs_a_trajectory_split_run(tmp_path, monkeypatch, trained_run):
    cfg = load_run_model(trained_run)[1]
    cfg.data.split_by = "frame"
    with pytest.raises(ConfigError, match="split_by trajectory"):
        run_trajectory_names(cfg, "test")
    with pytest.raises(ConfigError, match="--split must be one of"):
        run_trajectory_names(cfg, "holdout")


def test_referenced_energy_runs_get_no_total_energy_reference(trained_run, tmp_path):
    import json
    import shutil

    run = shutil.copytree(trained_run, tmp_path / "run")
    stats = json.loads((run / "stats.json").read_text()) | {"energy_kind": "referenced"}
    (run / "stats.json").write_text(json.dumps(stats))
    report = relax_run(run, TRAJ.parent, steps=1, output=tmp_path / "out")
    assert report["energy_kind"] == "referenced"
    assert report["summary"]["n_with_reference"] == 0
    assert report["summary"]["is2re_energy_mae_mev"] is None
