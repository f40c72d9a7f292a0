"""bench.typed: the one dataclass loader of run configs, matrix specs, backbone and method
configs (strict keys and types, renamed keys, comma lists, field-named range errors)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from bench.errors import ConfigError
from bench.typed import build_dataclass


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {self.rate!r}")


@dataclass(frozen=True)
class Outer:
    RENAMED: ClassVar[dict[str, str]] = {"old_n": "n"}

    n: int = 1
    seeds: tuple[int, ...] = (0,)
    name: str | None = None
    inner: Inner = field(default_factory=Inner)


def test_values_are_typed_and_widened_and_comma_lists_split():
    out = build_dataclass(Outer, {"n": 2, "seeds": "1, 2,3", "inner": {"rate": 0}}, "f.yaml")
    assert out == Outer(n=2, seeds=(1, 2, 3), inner=Inner(rate=0.0))
    assert isinstance(out.inner.rate, float)
    assert build_dataclass(Outer, {"seeds": [4], "name": None}, "f.yaml").seeds == (4,)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"nn": 1}, "f.yaml: unknown key 'nn'; known: inner, n, name, seeds. Did you mean 'n'?"),
        ({"old_n": 1}, "f.yaml: key 'old_n' was renamed to 'n'"),
        ({"n": True}, "f.yaml: n: expected int, got True"),
        ({"n": "3"}, "f.yaml: n: expected int, got '3'"),
        ({"seeds": "1,x"}, "f.yaml: seeds[1]: expected int, got 'x'"),
        ({"inner": {"rate": 1.5}}, "f.yaml: inner.rate must be in [0, 1), got 1.5"),
        ({"inner": {"rat": 0.1}}, "f.yaml: inner: unknown key 'rat'"),
        ({"inner": 3}, "f.yaml: inner: expected a mapping, got 3"),
    ],
)
def test_errors_are_one_line_naming_the_source_and_the_key(data, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        build_dataclass(Outer, data, "f.yaml")
    assert "\n" not in str(info.value)
