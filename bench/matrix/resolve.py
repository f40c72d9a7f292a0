"""The resolved config ``bench run`` will write for a grid point (to recognise a finished
run of the same config), without training anything."""

from __future__ import annotations

import copy
from typing import Any

from bench.matrix.grid import GridPoint

#: where a run lives, not what it is: left out when configs are compared
LOCATION_KEYS = (("run_id",), ("results",), ("data", "data_root"))


def expected_config(point: GridPoint) -> dict[str, Any]:
    """The config ``bench run`` resolves for the point's request (bench.run_request),
    location keys removed."""
    return without_location(point.request().resolve().to_dict())


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
