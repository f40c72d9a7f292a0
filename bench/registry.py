"""Plain-dict registries resolved lazily ("module:attr"), with did-you-mean errors."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any

from bench.errors import ConfigError


def did_you_mean(name: str, choices: list[str] | tuple[str, ...], what: str = "") -> str:
    """``"unknown [what ]'name'; known: a, b. Did you mean 'a'?"``."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    what = f"{what} " if what else ""
    return f"unknown {what}{name!r}; known: {', '.join(sorted(choices)) or 'none'}.{hint}"


def resolve(registry: Mapping[str, str], name: str, kind: str) -> Any:
    """Import and return ``registry[name]`` given as ``"package.module:attr"``."""
    if name not in registry:
        raise ConfigError(f"{kind} {did_you_mean(name, tuple(registry))}")
    module_name, attr = registry[name].split(":")
    return getattr(importlib.import_module(module_name), attr)
