"""AdamW with weight decay on weights only (no decay on biases and normalisation parameters)."""

from __future__ import annotations

import torch
from torch import nn


def is_norm_module(module: nn.Module) -> bool:
    """True for normalisation layers: torch's norms and any class named ``*Norm*`` (e3nn and
    equivariant layer norms of the backbones)."""
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
    return isinstance(module, norms) or "Norm" in type(module).__name__


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: ``[{decayed weights}, {biases, norm parameters: weight_decay 0}]``.

    A parameter is undecayed when its name ends in ``bias``, it belongs to a normalisation
    module, or the model lists its full name in ``model.no_weight_decay()`` (optional).
    """
    extra = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    decay, no_decay, seen = [], [], set()
    for mod_name, module in model.named_modules():
        norm = is_norm_module(module)
        for p_name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            skip = norm or p_name.endswith("bias") or full in extra
            (no_decay if skip else decay).append(param)
    return [
        {"params": decay, "weight_decay": float(weight_decay)},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; ``lr`` is the initial (peak) learning rate."""
    if lr <= 0 or weight_decay < 0:
        raise ValueError(f"need lr > 0 and weight_decay >= 0, got {lr!r}, {weight_decay!r}")
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=tuple(betas), eps=eps)
