"""Range checks shared by the backbone config dataclasses (``__post_init__``).

A config dataclass lists its ranges as ``{field: rule}`` and calls :func:`check_fields`;
the first field outside its range raises a ValueError whose message starts with the field
name (bench.typed turns it into a ConfigError naming ``model.options.<field>``).

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class C:
...     cutoff: float = 5.0
...     def __post_init__(self):
...         check_fields(self, cutoff="> 0")
>>> C(-1.0)
Traceback (most recent call last):
...
ValueError: cutoff must be > 0, got -1.0
"""

from __future__ import annotations

import math
from typing import Any

from bench.backbones.base import FORCE_MODES

#: rule -> predicate (None values are never checked: "not set")
RULES = {
    ">= 0": lambda v: v >= 0,
    ">= 1": lambda v: v >= 1,
    "> 0": lambda v: math.isfinite(v) and v > 0,
    "in [0, 1)": lambda v: 0 <= v < 1,
}


def check_fields(config: Any, **rules: str | tuple[Any, ...]) -> None:
    """ValueError for the first field of ``config`` outside its rule (a RULES key, or a
    tuple of allowed values)."""
    for name, rule in rules.items():
        value = getattr(config, name)
        if value is None:
            continue
        if isinstance(rule, tuple):
            if value not in rule:
                raise ValueError(f"{name} must be one of {rule}, got {value!r}")
        elif not RULES[rule](value):
            raise ValueError(f"{name} must be {rule}, got {value!r}")


def check_graph(config: Any) -> None:
    """The neighbour-graph fields every backbone config has: ``cutoff`` (Angstrom, > 0),
    ``max_neighbors`` (>= 1 or None) and ``force_mode``."""
    check_fields(config, cutoff="> 0", max_neighbors=">= 1", force_mode=FORCE_MODES)
