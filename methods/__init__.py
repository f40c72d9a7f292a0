"""Training regimes: none, noisy-nodes, denoise-no-force, dens (methods.base for the protocol)."""

from __future__ import annotations

import inspect
from typing import Any

from bench.errors import ConfigError
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
    """Build method ``name``; unknown or invalid hyper-parameters raise ConfigError."""
    cls = resolve(METHODS, name, "method")
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in hparams if k not in params)
    if unknown:
        known = sorted(k for k in params if k != "self")
        raise ConfigError(f"method {name!r}: unknown option(s) {unknown}; known: {known}")
    try:
        return cls(**hparams)
    except ValueError as exc:
        raise ConfigError(f"method {name!r}: {exc}") from exc


__all__ = ["METHODS", "Method", "Prepared", "Targets", "build_method"]
