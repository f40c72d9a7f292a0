"""Training regimes: none, noisy-nodes, denoise-no-force, dens (methods.base for the protocol)."""

from __future__ import annotations

from typing import Any

from bench.registry import resolve
from methods.base import Method, Prepared, Targets

#: name -> "module:class"
METHODS: dict[str, str] = {
    "none": "methods.none:NoDenoising",
    "noisy-nodes": "methods.noisy_nodes:NoisyNodes",
    "denoise-no-force": "methods.denoise_no_force:DenoiseNoForce",
    "dens": "methods.dens:DeNS",
}


def build_method(name: str, **hparams: Any) -> Method:
    """Build method ``name``; unknown hyper-parameters raise ConfigError."""
    return resolve(METHODS, name, "method")(**hparams)


__all__ = ["METHODS", "Method", "Prepared", "Targets", "build_method"]
