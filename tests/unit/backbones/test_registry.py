"""bench.backbones.registry: names, presets and overrides resolve, or fail with a clear
ConfigError."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import yaml

from bench.backbones.registry import (
    BACKBONES,
    CAPABILITY_FLAGS,
    PRESET_DIR,
    backbone_config,
    build_backbone,
    preset_config,
)
from bench.errors import ConfigError
from bench.registry import resolve


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
            typed = backbone_config(name, preset, dataset)  # strict: every key is a field
            assert dataclasses.asdict(typed) == {**dataclasses.asdict(typed), **cfg}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_the_config_dataclass_is_the_constructor_s_architecture_keywords(name):
    """Config fields and defaults are exactly the constructor's keywords other than the
    method-driven switches (force_encoding, noise_head, encode_sigma), so building from a
    Config loses nothing."""
    cls = resolve(BACKBONES, name, "backbone")
    params = inspect.signature(cls.__init__).parameters
    keywords = {
        k: p.default
        for k, p in params.items()
        if k not in ("self", *CAPABILITY_FLAGS, "encode_sigma", "kwargs")
    }
    fields = {f.name: f.default for f in dataclasses.fields(cls.Config)}
    if name == "segnn":  # SEGNNLike(**kwargs) forwards to Equiformer minus two switches
        keywords = {
            k: p.default
            for k, p in inspect.signature(cls.__mro__[1].__init__).parameters.items()
            if k not in ("self", *CAPABILITY_FLAGS, "attention", "layer_norm")
        }
    assert fields == keywords


def test_out_of_range_options_name_the_field():
    with pytest.raises(ConfigError, match=r"model\.options\.num_blocks must be >= 1, got 0"):
        backbone_config("equiformer", "ci", "md17", {"num_blocks": 0})
    with pytest.raises(ConfigError, match=r"model\.options\.lmax must be one of \(1, 2, 3\)"):
        backbone_config("segnn", "ci", "md17", {"lmax": 4})
    with pytest.raises(ConfigError, match=r"model\.options\.channels must be a multiple of 8"):
        backbone_config("equiformer", "ci", "md17", {"channels": 20})  # 2 heads x divisor 4
    with pytest.raises(ConfigError, match=r"model\.options\.num_sphere_samples: give exactly"):
        backbone_config("escn", "ci", "md17", {"num_sphere_samples": 128})
