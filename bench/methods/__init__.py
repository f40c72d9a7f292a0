"""Training regimes: none, noisy-nodes, denoise-no-force, dens (the protocol:
bench.methods.base).

Each class declares ``Config``, a frozen dataclass of its hyper-parameters (the schema of
``method.params``: unknown keys are a ConfigError with a did-you-mean, bench.typed).
"""

from __future__ import annotations

from typing import Any

from bench.errors import ConfigError
from bench.methods.base import Method, Prepared, Targets
from bench.registry import resolve
from bench.typed import build_dataclass

#: name -> "module:class"
METHODS: dict[str, str] = {
    "none": "bench.methods.none:NoDenoising",
    "noisy-nodes": "bench.methods.noisy_nodes:NoisyNodes",
    "denoise-no-force": "bench.methods.denoise_no_force:DenoiseNoForce",
    "dens": "bench.methods.dens:DeNS",
}


def method_config(name: str, params: dict[str, Any] | None = None, source: str = "config") -> Any:
    """The ``Config`` dataclass of method ``name`` from ``params`` (``method.params``);
    ConfigError naming ``<source>: method.params...`` for an unknown key or a bad value."""
    cls = resolve(METHODS, name, "method")
    return build_dataclass(cls.Config, dict(params or {}), source, "method.params")


def build_method(
    name: str, lambda_energy: float = 1.0, lambda_force: float = 80.0, **params: Any
) -> Method:
    """Method ``name`` with hyper-parameters ``params`` and the loss weights lambda_E,
    lambda_F; unknown or invalid values raise ConfigError."""
    cls = resolve(METHODS, name, "method")
    config = method_config(name, params)
    try:
        return cls(config, lambda_energy, lambda_force)
    except ValueError as exc:
        raise ConfigError(f"method {name!r}: {exc}") from exc


__all__ = ["METHODS", "Method", "Prepared", "Targets", "build_method", "method_config"]
