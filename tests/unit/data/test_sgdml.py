"""sGDML npz anywhere: units from the file, refused when absent, never unpickled."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.md17 import load_md17
from bench.data.registry import DatasetSpec, load_splits
from bench.data.units import BOHR_TO_ANGSTROM, KCAL_PER_MOL_TO_EV
from bench.errors import DataError


def _npz(data_dir, name="ethanol_kcal.npz"):
    return data_dir / "byod" / name


def _write(path, src, **changes):
    d = {k: v for k, v in np.load(src).items() if k not in changes or changes[k] is not None}
    d |= {k: v for k, v in changes.items() if v is not None}
    np.savez(path, **d)
    return path


def test_ev_and_kcal_files_give_the_same_structures(data_dir):
    kcal = load_splits(DatasetSpec("npz", path=_npz(data_dir)))
    ev = load_splits(DatasetSpec("npz", path=_npz(data_dir, "ethanol_ev.npz")))
    raw = np.load(_npz(data_dir))
    assert [len(getattr(kcal, k)) for k in ("train", "val", "test")] == [32, 4, 4]
    for a, b in zip(kcal.train + kcal.test, ev.train + ev.test, strict=True):
        assert a.info["frame"] == b.info["frame"] and a.energy == b.energy
        np.testing.assert_array_equal(a.forces, b.forces)
    s = kcal.train[0]
    assert s.energy == pytest.approx(raw["E"][s.info["frame"], 0] * KCAL_PER_MOL_TO_EV, rel=1e-12)
    assert s.id == f"ethanol_kcal.npz:{s.info['frame']}"


def test_a_file_without_units_is_refused_unless_the_run_says(data_dir, tmp_path):
    bare = _write(tmp_path / "bare.npz", _npz(data_dir, "ethanol_ev.npz"), e_unit=None, r_unit=None)
    with pytest.raises(DataError, match="does not guess") as info:
        load_splits(DatasetSpec("npz", path=bare))
    assert info.value.field == "e_unit/r_unit"
    assert "--set data.energy_unit=eV" in str(info.value) and "data.length_unit" in str(info.value)
    given = load_splits(DatasetSpec("npz", path=bare, energy_unit="eV", length_unit="Ang"))
    ev = load_splits(DatasetSpec("npz", path=_npz(data_dir, "ethanol_ev.npz")))
    assert [s.energy for s in given.train] == [s.energy for s in ev.train]


def test_bohr_positions_and_a_contradicting_unit(data_dir, tmp_path):
    src = np.load(_npz(data_dir, "ethanol_ev.npz"))
    bohr = _write(
        tmp_path / "bohr.npz",
        _npz(data_dir, "ethanol_ev.npz"),
        R=src["R"] / BOHR_TO_ANGSTROM,
        F=src["F"] * BOHR_TO_ANGSTROM,
        r_unit=np.array("Bohr"),
    )
    a = load_splits(DatasetSpec("npz", path=bohr)).train[0]
    b = load_splits(DatasetSpec("npz", path=_npz(data_dir, "ethanol_ev.npz"))).train[0]
    np.testing.assert_allclose(a.pos, b.pos, rtol=1e-12)
    np.testing.assert_allclose(a.forces, b.forces, rtol=1e-12)
    with pytest.raises(DataError, match="the file says 'eV'") as info:
        load_splits(DatasetSpec("npz", path=bohr, energy_unit="kcal/mol"))
    assert info.value.field == "e_unit"


def test_unknown_unit_and_pickled_unit_are_refused(data_dir, tmp_path):
    odd = _write(tmp_path / "odd.npz", _npz(data_dir), e_unit=np.array("furlong"))
    with pytest.raises(DataError, match="unknown energy unit 'furlong'"):
        load_splits(DatasetSpec("npz", path=odd))
    pickled = _write(tmp_path / "pickled.npz", _npz(data_dir), e_unit=np.array(["eV"], object))
    with pytest.raises(DataError, match="pickled Python objects") as info:
        load_splits(DatasetSpec("npz", path=pickled))
    assert info.value.field == "e_unit"
    with pytest.raises(DataError, match="needs --path"):
        load_splits(DatasetSpec("npz"))


def test_md17_reader_honours_a_stated_ev_unit(md17_root):
    path = md17_root / "md17" / "md17_aspirin.npz"
    kcal = load_md17(
        DatasetSpec("md17", data_root=md17_root, molecule="aspirin", n_train=50, n_val=10)
    )
    d = dict(np.load(path))
    np.savez(
        path,
        **d
        | {
            "E": d["E"] * KCAL_PER_MOL_TO_EV,
            "F": d["F"] * KCAL_PER_MOL_TO_EV,
            "e_unit": np.array("eV"),
            "r_unit": np.array("Ang"),
        },
    )
    ev = load_md17(
        DatasetSpec("md17", data_root=md17_root, molecule="aspirin", n_train=50, n_val=10)
    )
    assert [s.energy for s in ev.train] == pytest.approx([s.energy for s in kcal.train], rel=1e-12)


def test_bad_data_fails_before_the_run_directory_is_written(data_dir, tmp_path):
    from bench.config import resolve_config
    from bench.train.run import run_training

    d = dict(np.load(data_dir / "byod" / "ethanol_ev.npz"))
    np.savez(tmp_path / "bare.npz", **{k: v for k, v in d.items() if k != "e_unit"})
    cli = {
        "data.path": str(tmp_path / "bare.npz"),
        "results": str(tmp_path / "results"),
        "train.max_steps": 1,
    }
    cfg = resolve_config("schnet", "none", "npz", "ci", "paper-v1", cli)
    with pytest.raises(DataError, match="e_unit"):
        run_training(cfg)
    assert not (tmp_path / "results").exists()
