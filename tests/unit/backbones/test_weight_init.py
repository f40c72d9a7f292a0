"""Initial weights: paired arms share them, and the ``weight_init`` schemes draw what they say.

A seed must give a network with the DeNS modules (force embedding, noise head) the same
initial weights as one without wherever the two have the same parameter: the study's paired
``none`` / ``dens`` arms rely on it (results/dens-small-study). A noise head widens the last
block's output in the Equiformer family, so that block's shortcut and the energy head after it
are drawn from a shifted stream; nothing else may differ.
"""

from __future__ import annotations

import math

import pytest
import torch

from bench.backbone_presets import preset_config, preset_names
from bench.backbones import build_backbone
from bench.backbones.layers import DepthwiseTensorProduct, IrrepsLinear
from bench.backbones.layers.init import apply_weight_init
from bench.errors import ConfigError

#: parameters a noise head may change at one seed: (the last of the ci preset's 2 blocks)
WIDENED = {
    "equiformer": ("blocks.1.shortcut.", "energy_head."),
    "segnn": ("blocks.1.shortcut.", "energy_head."),
}


def _build(name: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_backbone(name, "ci", "md17", **kwargs)


def _differing(a: torch.nn.Module, b: torch.nn.Module) -> list[str]:
    sa, sb = a.state_dict(), b.state_dict()
    shared = [k for k in sa if k in sb and sa[k].shape == sb[k].shape]
    assert len(shared) > 10
    return [k for k in shared if not torch.equal(sa[k], sb[k])]


@pytest.mark.parametrize("name", ["equiformer", "segnn", "escn", "equiformer-v2", "schnet"])
def test_dens_modules_leave_the_shared_initial_weights_alone(name):
    plain = _build(name)
    assert _differing(plain, _build(name, force_encoding=True)) == []
    widened = WIDENED.get(name, ())
    moved = _differing(plain, _build(name, force_encoding=True, noise_head=True))
    assert [k for k in moved if not k.startswith(widened)] == []
    assert _differing(plain, _build(name, seed=1)) != []  # the check can fail


@pytest.mark.parametrize("scheme", ["normal", "uniform"])
def test_uniform_scheme_bounds_every_tensor_product_weight_by_its_normal_std(scheme):
    model = _build("segnn", force_encoding=True, noise_head=True, weight_init=scheme)
    scaled = []  # weights / s, s the std of the normal scheme
    for layer in model.modules():
        if isinstance(layer, IrrepsLinear):
            scaled += [
                w.detach() * math.sqrt(w.shape[0]) / layer.init_gain for w in layer.weights.values()
            ]
        elif isinstance(layer, DepthwiseTensorProduct) and layer.weight is not None:
            scaled.append(layer.weight.detach())
    flat = torch.cat([w.reshape(-1) for w in scaled])
    assert flat.numel() > 5000
    if scheme == "uniform":
        assert flat.abs().max() <= 1.0
        assert flat.std().item() == pytest.approx(1 / math.sqrt(3), rel=0.05)
    else:
        assert flat.abs().max() > 2.5
        assert flat.std().item() == pytest.approx(1.0, rel=0.05)


def test_uniform_scheme_keeps_the_other_initialisations():
    """Radial MLPs, attention vectors and biases are drawn by construction, as with normal."""
    normal = _build("equiformer", weight_init="normal").state_dict()
    uniform = _build("equiformer", weight_init="uniform").state_dict()
    redrawn = {k for k in normal if ".weights." in k or k.endswith("tp_value.weight")}
    assert len(redrawn) > 20
    for key in normal:
        assert torch.equal(normal[key], uniform[key]) != (key in redrawn), key


def test_segnn_presets_use_the_papers_uniform_scheme_and_equiformer_the_released_one():
    for preset in preset_names("segnn"):
        assert preset_config("segnn", preset, "md17")["weight_init"] == "uniform", preset
    for preset in preset_names("equiformer"):
        assert preset_config("equiformer", preset, "md17")["weight_init"] == "normal", preset


def test_unknown_scheme_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="model.options.*weight_init"):
        build_backbone("segnn", "ci", "md17", weight_init="xavier")
    with pytest.raises(ValueError, match="weight_init"):
        apply_weight_init(torch.nn.Linear(2, 2), "xavier", torch.random.get_rng_state())
