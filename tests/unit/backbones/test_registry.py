"""backbones.registry: names, presets and overrides resolve, or fail with a clear ConfigError."""

from __future__ import annotations

import pytest
import yaml

from backbones.registry import BACKBONES, PRESET_DIR, build_backbone, preset_config
from bench.errors import ConfigError


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError, match="Did you mean 'schnet'"):
        build_backbone("schnett")


def test_unknown_override_is_named_with_the_known_options():
    with pytest.raises(
        ConfigError, match=r"model.options: unknown key 'hiden_channels'.*cutoff.*'hidden_channels'"
    ):
        build_backbone("schnet", hiden_channels=8)


def test_unknown_preset_is_an_error():
    with pytest.raises(ConfigError, match="preset unknown 'papr'.*Did you mean 'paper'"):
        build_backbone("schnet", preset="papr")


def test_unknown_dataset_is_an_error():
    with pytest.raises(ConfigError, match="no dataset 'qm9'"):
        build_backbone("schnet", dataset="qm9")


def test_override_replaces_the_preset_value():
    model = build_backbone("schnet", "ci", "md17", force_mode="direct", cutoff=4.0)
    assert (model.force_mode, model.cutoff) == ("direct", 4.0)


def test_dataset_inherits_and_overrides_its_parent():
    md17, oc22 = preset_config("schnet", "paper", "md17"), preset_config("schnet", "paper", "oc22")
    assert oc22["hidden_channels"] == md17["hidden_channels"] == 128
    assert (oc22["force_mode"], oc22["cutoff"]) == ("direct", 6.0)
    assert "inherit" not in oc22


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_preset_file_resolves_for_every_preset_and_dataset(name):
    path = PRESET_DIR / f"{name.replace('-', '_')}.yaml"
    table = yaml.safe_load(path.read_text())
    assert {"ci", "paper"} <= set(table)  # every backbone has both; extra presets allowed
    for preset, by_dataset in table.items():
        for dataset in by_dataset:
            cfg = preset_config(name, preset, dataset)
            assert cfg["force_mode"] in ("gradient", "direct"), (path, preset, dataset)
