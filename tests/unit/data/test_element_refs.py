"""Element references 'auto', split checks (empty, slabs, unseen elements), data keys."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from bench.config import resolve_config
from bench.data.ase_files import read_ase_file
from bench.data.element_refs import compositions, reference_stats
from bench.data.registry import SplitData
from bench.data.split_checks import check_splits
from bench.data.stats import compute_stats
from bench.errors import ConfigError, DataError
from bench.train.setup import normalization

DATA = Path(__file__).parents[2] / "data"


@pytest.fixture(scope="module")
def mixed():
    """12 aspirin + 16 ethanol frames (eV), two compositions."""
    return read_ase_file(DATA / "byod" / "mixed_aspirin_ethanol.extxyz")


def _cfg(dataset="ase", *sets):
    return resolve_config("schnet", "none", dataset, "ci", "paper-v1", {"data.path": "f"}, sets)


def test_auto_uses_references_for_several_compositions_only(mixed):
    ethanol = [s for s in mixed if s.n_atoms == 9]
    assert compositions(mixed) == 2 and compositions(ethanol) == 1
    stats, rec = reference_stats(ethanol, "auto", None)
    assert rec["used"] is False and stats == compute_stats(ethanol)
    stats, rec = reference_stats(mixed, "auto", None)
    assert (rec["used"], rec["source"]) == (True, "least-squares fit")
    assert stats == compute_stats(mixed, element_refs=True)
    assert reference_stats(mixed, False, None)[1]["used"] is False


def test_mixed_compositions_normalise_from_the_residual_spread(mixed):
    auto = normalization(_cfg().data, mixed)
    raw = normalization(_cfg("ase", "data.element_refs=false").data, mixed)
    assert raw["force_std"] > 5000 and auto["force_std"] < 1.0  # eV: 13 keV spread vs residual
    assert auto["element_refs"] == {
        "mode": "auto",
        "used": True,
        "source": "least-squares fit",
        "n_compositions": 2,
    }


def test_isolated_atom_energies_are_the_references(mixed):
    e0s = {1: -13.6, 6: -1029.8, 8: -2041.5}
    stats, rec = reference_stats(mixed, "auto", e0s)
    assert rec["source"] == "isolated atoms" and stats.element_refs_ev == e0s
    residual = [s.energy - sum(e0s[int(z)] for z in s.z) for s in mixed]
    assert stats.residual_std_ev == pytest.approx(np.std(residual))
    with pytest.raises(DataError, match=r"Z=\[8\]"):
        reference_stats(mixed, "auto", {1: -13.6, 6: -1029.8})


def test_element_refs_config_values():
    assert _cfg().data.element_refs == "auto"
    assert _cfg("ase", "data.element_refs=true").data.element_refs is True
    with pytest.raises(ConfigError, match="element_refs"):
        _cfg("ase", "data.element_refs=sometimes")


def test_oc20_traj_bundles_split_profile_and_energy_kind():
    cfg = _cfg("oc20-traj")
    assert (cfg.data.kind, cfg.data.split_by, cfg.variant) == ("oc20", "trajectory", "total-energy")
    assert (cfg.data.energy_kind, cfg.data.normalization, cfg.data.element_refs) == (
        "total",
        "train",
        True,
    )
    with pytest.raises(ConfigError, match="'trajectory' for oc20-traj"):
        _cfg("oc20-traj", "data.split_by=frame")


def _split(train, val, test):
    return SplitData(train, val, test, periodic=any(s.periodic for s in train))


def test_empty_splits_are_errors_naming_the_split(mixed):
    cfg = _cfg().data
    with pytest.raises(DataError, match="split is empty") as info:
        check_splits(_split(mixed[:4], mixed[4:6], []), cfg)
    assert (info.value.field, info.value.path) == ("test", "f")
    with pytest.raises(DataError, match="split is empty") as info:
        check_splits(_split(mixed[:4], [], mixed[4:]), cfg)
    cfg.n_val = 0  # an empty val split on purpose
    check_splits(_split(mixed[:4], [], mixed[4:]), cfg)


def test_slabs_read_as_molecules_and_unseen_elements(data_dir, mixed):
    slabs = read_ase_file(data_dir / "oc20_relax" / "random1000156.traj")
    with pytest.raises(ConfigError, match="--dataset oc20-traj") as info:
        check_splits(_split(slabs[:3], slabs[3:4], slabs[4:]), _cfg().data)
    assert "--set data.kind=oc20 --set variant=total-energy --set data.split_by=trajectory" in (
        str(info.value)
    )
    check_splits(_split(slabs[:3], slabs[3:4], slabs[4:]), _cfg("oc20-traj").data)
    with pytest.warns(UserWarning, match=r"test split holds elements Z=\[11, 81\]"):
        check_splits(_split(mixed[:4], mixed[4:6], slabs[:1]), _cfg("ase", "data.kind=oc20").data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_splits(_split(mixed[:20], mixed[20:24], mixed[24:]), _cfg().data)


def test_a_fit_that_reproduces_every_energy_is_refused(mixed):
    one_each = [mixed[0], mixed[-1]]  # aspirin and ethanol: 2 structures, 2 compositions
    with pytest.raises(DataError, match="reproduces all 2 train energies"):
        reference_stats(one_each, "auto", None)
    assert reference_stats(one_each, False, None)[1]["used"] is False


def test_data_keys_a_reader_would_ignore_are_refused():
    with pytest.raises(ConfigError, match="data.energy_unit is read by the npz / md17"):
        _cfg("ase", "data.energy_unit=eV")
    with pytest.raises(ConfigError, match="data.train_path is read by the ase"):
        _cfg("npz", "data.train_path=t.xyz")
    assert _cfg("npz", "data.energy_unit=eV").data.energy_unit == "eV"
