"""`bench run --config FILE.yaml`: checked key by key, names from the file, flattening."""

from __future__ import annotations

import pytest

from bench.config_file import flatten, name_from, read_config_file
from bench.errors import ConfigError


def test_a_run_config_subset_is_read_and_flattened(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "model: {backbone: schnet}\nmethod: {name: dens, params: {sigma: 0.1}}\n"
        "train: {lr: 1.0e-3}\nseed: 4\n"
    )
    data = read_config_file(path)
    assert name_from(data, "model", "backbone", None) == "schnet"
    assert name_from(data, "model", "backbone", "segnn") == "segnn"  # the option wins
    assert flatten(data) == {
        "model.backbone": "schnet",
        "method.name": "dens",
        "method.params": {"sigma": 0.1},
        "train.lr": 1e-3,
        "seed": 4,
    }
    with pytest.raises(ConfigError, match="missing option --dataset"):
        name_from(data, "data", "name", None)


@pytest.mark.parametrize(
    "text, match",
    [
        ("train: {lrr: 1}\n", "train: unknown key .*'lrr'.*Did you mean 'lr'"),
        ("train: {lr: fast}\n", "expected float"),
        ("- a list\n", "expected a mapping"),
        ("train: {lr: [1\n", "not valid YAML"),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        read_config_file(path)
    assert str(path) in str(info.value)
