"""``bench run --config FILE.yaml``: a run configuration file.

The file has the shape of a run's ``config.yaml`` (bench.config.RunConfig), any subset of
it, so a finished run's config is a valid input::

    model: {backbone: schnet}
    method: {name: dens, params: {sigma: 0.05}}
    data: {name: rmd17, molecule: ethanol, data_root: tests/data}
    preset: ci
    train: {max_steps: 200, lr: 1.0e-3}

It is read with bench.typed.safe_load only and checked key by key by bench.typed
(unknown key or wrong type: ConfigError naming the file and the key). It is layered above
the presets and profiles and below the command line: options given (``--seed``,
``--max-steps``, ...) and ``--set`` overrides win. ``model.backbone``, ``method.name`` and
``data.name`` stand in for ``--backbone``, ``--method`` and ``--dataset``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.config import RunConfig, load_yaml, resolve_config
from bench.errors import ConfigError
from bench.typed import build_dataclass

#: file keys -> the run_cmd option they stand in for
_NAMES = {
    ("model", "backbone"): "--backbone",
    ("method", "name"): "--method",
    ("data", "name"): "--dataset",
}
#: file keys that choose what resolve_config starts from rather than patch it
_CHOOSERS = ("model.backbone", "method.name", "data.name", "preset", "profile", "scale")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The file's mapping, checked against RunConfig's keys and types."""
    path = Path(path)
    data = load_yaml(path)
    build_dataclass(RunConfig, data, str(path))
    return data


def resolve_with_file(
    file_cfg: dict[str, Any],
    backbone: str | None,
    method: str | None,
    dataset: str | None,
    preset: str | None,
    profile: str | None,
    cli: dict[str, Any],
    overrides: list[str],
    scale: str | None = None,
) -> RunConfig:
    """bench.config.resolve_config with ``file_cfg`` (:func:`read_config_file`) layered
    below ``cli`` (dotted keys of command-line options) and ``overrides`` (``--set``); a name
    or preset/profile/scale given as an option wins over the file's."""
    names = [
        name_from(file_cfg, *where, given)
        for where, given in zip(_NAMES, (backbone, method, dataset), strict=True)
    ]
    layer = {k: v for k, v in flatten(file_cfg).items() if k not in _CHOOSERS}
    return resolve_config(
        *names,
        preset or file_cfg.get("preset") or "ci",
        profile or file_cfg.get("profile") or "paper-v1",
        layer | cli,
        overrides,
        scale or file_cfg.get("scale"),
    )


def name_from(file_cfg: dict[str, Any], section: str, key: str, given: str | None) -> str:
    """``given`` (a command-line option) or the file's ``section.key``; ConfigError if neither."""
    if given is not None:
        return given
    value = (file_cfg.get(section) or {}).get(key)
    if value is None:
        raise ConfigError(
            f"missing option {_NAMES[(section, key)]} (or {section}.{key} in --config; "
            "see 'bench run --help')"
        )
    return str(value)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``; ``params``/``options`` stay mappings."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = prefix + key
        if isinstance(value, dict) and key not in ("params", "options"):
            out |= flatten(value, dotted + ".")
        else:
            out[dotted] = value
    return out
