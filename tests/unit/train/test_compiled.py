"""bench.train.compiled (``train.compile``) and bf16 autocast (``train.amp``) on CPU."""

from __future__ import annotations

import pytest
import torch

from bench.backbones.registry import build_backbone
from bench.config import resolve_config
from bench.errors import ConfigError
from bench.methods import build_method
from bench.testing import make_periodic_batch
from bench.train.compiled import compile_backbone
from bench.train.step import StepContext, autocast, train_step


def test_gradient_force_backbones_refuse_compilation_by_key():
    model = build_backbone("schnet", "ci", "md17")
    with pytest.raises(ConfigError, match="train.compile.*gradient"):
        compile_backbone(model)
    assert all(getattr(b, "_compiled_call_impl", None) is None for b in model.interactions)


def test_resolved_config_accepts_amp_and_compile_on_cpu():
    cfg = resolve_config(
        "escn", "dens", "rmd17", "ci", "paper-v1", {}, ["train.amp=true", "train.compile=true"]
    )
    assert cfg.device == "cpu" and cfg.train.amp and cfg.train.compile
    with pytest.raises(ConfigError, match="compile"):
        resolve_config("escn", "dens", "rmd17", "ci", "paper-v1", {}, ["train.compile=2"])


def test_compiled_direct_force_model_equals_eager_and_keeps_its_state_dict():
    torch.manual_seed(0)
    model = build_backbone("escn", "ci", "oc20", force_encoding=True, noise_head=True).float()
    keys_before = list(model.state_dict())
    batch = make_periodic_batch(1, (6, 6), torch.Generator().manual_seed(1), torch.float32)
    eager = model(batch)
    compile_backbone(model)
    assert compile_backbone(model) is model  # idempotent: compiled once
    compiled = model(batch)
    for key, value in eager.items():
        torch.testing.assert_close(compiled[key], value, rtol=1e-4, atol=1e-5)
    assert list(model.state_dict()) == keys_before
    assert all(block._compiled_call_impl is not None for block in model.layers)
    sum(v.square().sum() for v in compiled.values()).backward()  # gradients reach everything
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_cpu_autocast_runs_the_forward_in_bf16_and_returns_float_losses():
    """One DeNS step of a direct-force model under CPU bf16 autocast: the forward's matmuls
    run in bf16, the outputs the loss sees are float32 (energies float64), and the loss is
    the float32 loss to bf16 accuracy."""
    torch.manual_seed(0)
    model = build_backbone("escn", "ci", "oc20", force_encoding=True, noise_head=True).float()
    batch = make_periodic_batch(2, (6, 6), torch.Generator().manual_seed(2), torch.float32)
    batch.energy = torch.tensor([-3.0, -2.5], dtype=torch.float64)
    method = build_method("dens", p_dens=0.5, sigma=0.1)
    seen: list[torch.dtype] = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda mod, args, out: (
            seen.append(out.dtype)
            if isinstance(mod, torch.nn.Linear) and isinstance(out, torch.Tensor)
            else None
        )
    )
    try:
        with autocast(batch.pos.device, True):
            out = model(batch)
    finally:
        handle.remove()
    assert torch.bfloat16 in seen
    assert out["energy"].dtype == torch.float64
    losses = {}
    for amp in (False, True):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        ctx = StepContext(1.0, 1.0, torch.Generator().manual_seed(4), amp=amp)
        result = train_step(model, method, batch, optimizer, ctx)
        losses[amp] = result["loss"]
    assert losses[True] == pytest.approx(losses[False], rel=3e-2)
    assert losses[True] != losses[False]  # the bf16 path really ran
