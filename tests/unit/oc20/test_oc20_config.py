"""OC20/OC22 dataset configuration: energy kinds, normalisation constants, trajectory splits."""

from __future__ import annotations

import pytest

from bench.config import resolve_config
from bench.errors import ConfigError
from bench.train.setup import load_split, normalization
from tests.unit.oc20.conftest import ci_run_config


@pytest.mark.parametrize("profile", ["paper-v1", "released"])
def test_paper_constants_and_energy_kinds(profile):
    oc20 = resolve_config("equiformer-v2", "dens", "oc20", "paper", profile).data
    oc22 = resolve_config("equiformer-v2", "dens", "oc22", "paper", profile).data
    assert (oc20.energy_kind, oc20.normalization) == ("referenced", "fixed")
    assert (oc20.energy_mean, oc20.energy_std, oc20.force_std) == pytest.approx(
        (-0.7554, 2.8873, 2.8873), abs=1e-4
    )
    assert (oc22.energy_kind, oc22.normalization) == ("total", "fixed")
    assert (oc22.energy_mean, oc22.energy_std, oc22.force_std) == pytest.approx(
        (0.0, 25.12, 0.1476), abs=5e-4
    )


def test_total_energies_under_the_oc20_profile_are_refused_with_a_hint(tmp_path, traj_folder):
    cfg = ci_run_config(tmp_path, traj_folder)
    cfg.variant, cfg.data.energy_kind = None, "referenced"
    with pytest.raises(ConfigError, match="variant=total-energy"):
        load_split(cfg.data)


def test_total_energy_variant_normalises_on_train_with_element_references(tmp_path, traj_folder):
    cfg = ci_run_config(tmp_path, traj_folder)
    assert (cfg.data.energy_kind, cfg.data.normalization, cfg.data.element_refs) == (
        "total",
        "train",
        True,
    )
    split = load_split(cfg.data)
    norm = normalization(cfg.data, split.train)
    stats = norm["train_stats"]
    assert norm["energy_mean"] == stats["residual_mean_ev"]
    assert norm["energy_std"] == norm["force_std"] == stats["residual_std_ev"] > 0
    assert set(norm["atom_ref"]) == {1, 11, 81}  # H, Na, Tl


@pytest.mark.parametrize(
    ("sets", "match"),
    [
        (["data.split_by=trajectory"], "unless the dataset is ase"),
        (["data.split_by=file"], "split_by"),
        (["data.energy_kind=adsorption"], "energy_kind"),
    ],
)
def test_bad_data_options_are_config_errors(sets, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("schnet", "none", "rmd17", "ci", "paper-v1", {}, sets)
