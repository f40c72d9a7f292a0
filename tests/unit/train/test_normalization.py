"""bench.train.normalization: the typed normalisation round-trips through JSON and rejects bad
values with the file and field named."""

from __future__ import annotations

import json

import pytest
import torch

from bench.errors import DataError
from bench.train.normalization import Normalization


def test_json_round_trip_keeps_every_value():
    norm = Normalization(-17_600.25, 0.75, 0.5, {1: -13.6, 8: -2041.3})
    again = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again == norm
    assert json.loads(json.dumps(norm.to_dict()))["atom_ref"] == {"1": -13.6, "8": -2041.3}


def test_from_dict_ignores_the_provenance_keys_of_stats_json():
    stats = {"energy_mean": 1.0, "energy_std": 2.0, "force_std": 3.0, "atom_ref": None}
    stats |= {"train_stats": {"n_structures": 5}, "element_refs": {"used": False}}
    assert Normalization.from_dict(stats) == Normalization(1.0, 2.0, 3.0)


def test_atom_ref_tensor_indexes_by_atomic_number():
    table = Normalization(0.0, 1.0, 1.0, {6: -1.5}).atom_ref_tensor()
    assert table.dtype == torch.float64 and table.shape == (119,)
    assert table[6] == -1.5 and table.abs().sum() == 1.5
    assert Normalization(0.0, 1.0, 1.0).atom_ref_tensor() is None


@pytest.mark.parametrize(
    ("stats", "field"),
    [
        ({"energy_mean": 0.0, "energy_std": "1", "force_std": 1.0}, "energy_std"),
        ({"energy_mean": 0.0, "force_std": 1.0}, "energy_std"),
        ({"energy_mean": 0.0, "energy_std": 1.0, "force_std": 1.0, "atom_ref": [1]}, "atom_ref"),
    ],
)
def test_bad_fields_name_the_file_and_the_field(stats, field):
    with pytest.raises(DataError, match=f"run/stats.json: field '{field}'"):
        Normalization.from_dict(stats, "run/stats.json")


def test_non_positive_stds_are_refused():
    with pytest.raises(DataError, match="run/stats.json.*must be > 0"):
        Normalization.from_dict(
            {"energy_mean": 0.0, "energy_std": 0.0, "force_std": 1.0}, "run/stats.json"
        )
    with pytest.raises(ValueError, match="force_std must be > 0|must be > 0"):
        Normalization(0.0, 1.0, -1.0)
