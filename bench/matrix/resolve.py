"""The resolved config ``bench run`` will write for a grid point (to recognise a finished
run of the same config), without training anything."""

from __future__ import annotations

import copy
from typing import Any

from bench.matrix.command import format_value
from bench.matrix.grid import GridPoint

#: where a run lives, not what it is: left out when configs are compared
LOCATION_KEYS = (("run_id",), ("results",), ("data", "data_root"))


def expected_config(point: GridPoint) -> dict[str, Any]:
    """``bench.config.resolve_config`` with the options ``bench run`` gets from the matrix
    (see bench.matrix.command.run_args), location keys removed."""
    from bench.config import resolve_config

    cli: dict[str, Any] = {"seed": point.seed}
    if point.molecule is not None:
        cli["data.molecule"] = point.molecule
    if point.device is not None:
        cli["device"] = point.device
    if point.epochs is not None:
        cli |= {"train.epochs": point.epochs, "train.max_steps": None}
    if point.max_steps is not None:
        cli["train.max_steps"] = point.max_steps
    overrides = [f"{k}={format_value(v)}" for k, v in sorted(point.overrides.items())]
    profile = {"profile": point.profile} if point.profile is not None else {}
    cfg = resolve_config(point.backbone, point.method, point.dataset, point.preset,
                         cli=cli, overrides=overrides, **profile)
    return without_location(cfg.to_dict())


def without_location(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config dict without run_id, results and data.data_root."""
    out = copy.deepcopy(config)
    for path in LOCATION_KEYS:
        node = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out
