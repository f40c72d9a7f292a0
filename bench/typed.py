"""The one loader of typed configuration: plain YAML values -> (frozen) dataclasses, strictly.

Used for run configs (bench.config), run config files (bench.config_file), matrix specs
(bench.matrix.spec), and the backbone and method configs (bench/backbones/*,
bench/methods/*). Rules:

- unknown keys are an error with a did-you-mean; a key a dataclass lists in its
  ``RENAMED`` class attribute (old name -> new name) is an error saying what it is now called;
- values must have the annotated type (``int`` widens to ``float``; ``bool`` is never a
  number); ``None`` only where the annotation allows it;
- a ``tuple[X, ...]`` field takes a YAML list or a comma-separated string whose items are
  read as YAML scalars (``"0,1,2"`` -> ``(0, 1, 2)``, the command-line form);
- a ``ValueError`` from the dataclass's ``__post_init__`` (whose message starts with the
  field's name) becomes a ConfigError naming the dotted key.

Every error is one line: ``<source>: <dotted.key>: <problem>``.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Point:
...     x: float = 0.0
>>> build_dataclass(Point, {"x": 1}, "p.yaml")
Point(x=1.0)
>>> build_dataclass(Point, {"y": 1}, "p.yaml")
Traceback (most recent call last):
...
bench.errors.ConfigError: p.yaml: unknown key 'y'; known: x.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

import yaml

from bench.errors import ConfigError
from bench.registry import did_you_mean


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that also reads YAML 1.2 floats without a dot (``1e-3``, ``2E5``),
    which YAML 1.1 leaves as strings: config files, specs and ``--set`` values alike."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with ``1e-3`` read as a float (see _Loader)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def build_dataclass(cls: type, data: Any, source: str, path: str = "") -> Any:
    """Instantiate dataclass ``cls`` from the mapping ``data``, recursively.

    Args:
        cls: a dataclass type (its annotations are the schema).
        data: the plain value read from YAML or the command line.
        source: the file (or ``"config"``, ``"--set"``) named first in every error.
        path: the dotted key of ``data`` inside ``source`` ("" at the top).
    """
    if not isinstance(data, dict):
        raise _error(source, path, f"expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    renamed = getattr(cls, "RENAMED", {})
    for key in data:
        if key in renamed:
            raise _error(source, path, f"key {key!r} was renamed to {renamed[key]!r}")
        if key not in names:
            raise _error(source, path, did_you_mean(str(key), names, "key"))
    values = {k: coerce(v, hints[k], source, _join(path, k)) for k, v in data.items()}
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{source}: {_join(path, str(exc))}") from exc


def coerce(value: Any, tp: Any, source: str, path: str) -> Any:
    """``value`` checked against the annotation ``tp`` (module docstring for the rules)."""
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, source, path)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for option in inner[:-1]:
            try:
                return coerce(value, option, source, path)
            except ConfigError:
                continue
        return coerce(value, inner[-1], source, path)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise _error(source, path, f"expected a mapping, got {value!r}")
        return dict(value)
    if origin in (list, tuple):
        items = _items(value, origin, source, path)
        return origin(coerce(v, args[0], source, f"{path}[{i}]") for i, v in enumerate(items))
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is Any or (isinstance(value, tp) and not (tp is int and isinstance(value, bool))):
        return value
    raise _error(source, path, f"expected {getattr(tp, '__name__', tp)}, got {value!r}")


def _items(value: Any, origin: type, source: str, path: str) -> list[Any]:
    """The items of a list/tuple value; a tuple also takes ``"a,b,c"`` (YAML scalars)."""
    if origin is tuple and isinstance(value, str):
        try:
            return [safe_load(v) for v in value.split(",") if v.strip()]
        except yaml.YAMLError as exc:
            raise _error(source, path, f"not a comma-separated list ({exc})") from exc
    if not isinstance(value, list | tuple):
        raise _error(source, path, f"expected a list, got {value!r}")
    return list(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _error(source: str, path: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {path}: {problem}" if path else f"{source}: {problem}")
