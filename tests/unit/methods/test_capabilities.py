"""A method declares the backbone capabilities it requires; the run's model is built with
exactly those (bench.train.setup.build_model), and noisy-nodes builds no force encoder."""

from __future__ import annotations

import pytest

from bench.config import resolve_config
from bench.methods import METHODS, build_method
from bench.train.normalization import Normalization
from bench.train.setup import build_model, build_run_method

#: method -> (force_encoding, noise_head)
REQUIRED = {
    "none": (False, False),
    "noisy-nodes": (False, True),
    "denoise-no-force": (True, True),
    "dens": (True, True),
}


def test_every_method_declares_its_requirements():
    assert set(REQUIRED) == set(METHODS)
    for name, (force, noise) in REQUIRED.items():
        flags = build_method(name).backbone_flags()
        assert flags == {"force_encoding": force, "noise_head": noise}, name


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_the_run_model_has_exactly_the_required_capabilities(name):
    cfg = resolve_config("schnet", name, "md17", "ci", "paper-v1")
    model = build_model(cfg, build_run_method(cfg), Normalization(0.0, 1.0, 1.0))
    force, noise = REQUIRED[name]
    caps = model.capabilities
    assert (caps.force_encoding, caps.noise_head, caps.sigma_encoding) == (force, noise, False)
    assert (model.force_encoder is not None, model.noise_head is not None) == (force, noise)


def test_sigma_encoding_is_required_only_with_its_option():
    plain, sigma = build_method("dens"), build_method("dens", encode_sigma=True)
    assert "encode_sigma" not in plain.backbone_flags()
    assert sigma.backbone_flags()["encode_sigma"] is True


def test_a_backbone_without_sigma_encoding_refuses_the_flag():
    from bench.backbones.registry import build_backbone
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="encode_sigma needs a backbone that encodes sigma"):
        build_backbone("schnet", "ci", "md17", noise_head=True, encode_sigma=True)


@pytest.mark.parametrize("backbone", ["schnet", "equiformer", "escn"])
def test_noisy_nodes_models_lack_exactly_the_force_encoder(backbone):
    from bench.backbones.registry import build_backbone

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters())

    noisy = build_backbone(backbone, "ci", "md17", **build_method("noisy-nodes").backbone_flags())
    dens = build_backbone(backbone, "ci", "md17", **build_method("dens").backbone_flags())
    encoder = dens.force_embed if backbone == "equiformer" else dens.force_encoder
    assert count(encoder) > 0
    assert count(noisy) == count(dens) - count(encoder)
