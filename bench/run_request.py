"""One run request: what ``bench run`` is asked to do, typed, in one place.

``bench run`` parses its options into a :class:`RunRequest`; the matrix builds one per grid
point and launches ``bench run`` with :meth:`RunRequest.argv`; ``bench perf`` builds one per
arm. :meth:`RunRequest.to_overrides` is the only mapping from options to the dotted config
keys they set (bench.config.resolve_config layer 5), :meth:`RunRequest.argv` its inverse,
and :meth:`RunRequest.resolve` the resolved config. A run's identity is
bench.train.run.default_run_id of that config (location keys left out).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.errors import ConfigError

#: option (field) -> the dotted config key it sets; ``epochs`` also clears train.max_steps
CONFIG_KEYS = {
    "molecule": "data.molecule",
    "labels": "data.labels",
    "path": "data.path",
    "data_root": "data.data_root",
    "seed": "seed",
    "variant": "variant",
    "epochs": "train.epochs",
    "max_steps": "train.max_steps",
    "device": "device",
    "results": "results",
    "run_id": "run_id",
}


@dataclass(frozen=True)
class RunRequest:
    """The options of one ``bench run`` (None: not given; the config's value stays).

    Fields are in the order :meth:`argv` writes them. ``preset``: the network size (a
    backbone preset); ``scale``: the training scale (bench.config.scales; None: named like the
    preset, else paper). ``config``: a run config file
    (bench.config_file); ``overrides``: ``--set key=value`` strings, applied in order
    (a later one wins). Paths are strings, as written in config.yaml.
    """

    backbone: str | None = None
    method: str | None = None
    dataset: str | None = None
    config: str | None = None
    seed: int | None = None
    preset: str | None = None
    scale: str | None = None
    molecule: str | None = None
    labels: str | None = None
    path: str | None = None
    profile: str | None = None
    variant: str | None = None
    max_steps: int | None = None
    epochs: int | None = None
    device: str | None = None
    data_root: str | None = None
    overrides: tuple[str, ...] = ()
    results: str | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("config", "path", "data_root", "results"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if self.epochs is not None and self.max_steps is not None:
            raise ConfigError("--epochs and --max-steps are mutually exclusive")

    def to_overrides(self) -> dict[str, Any]:
        """The dotted config keys the given options set, e.g. ``{"data.molecule": "aspirin",
        "seed": 1}`` (``epochs`` also sets ``train.max_steps`` to None)."""
        out = {
            key: getattr(self, name)
            for name, key in CONFIG_KEYS.items()
            if getattr(self, name) is not None
        }
        if self.epochs is not None:
            out["train.max_steps"] = None
        return out

    def argv(self) -> list[str]:
        """The ``bench run`` arguments (after the program) that parse back to this request."""
        args = ["run"]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "overrides":
                args += [a for item in value for a in ("--set", item)]
            elif value is not None:
                args += ["--" + f.name.replace("_", "-"), str(value)]
        return args

    def resolve(self) -> RunConfig:
        """The resolved RunConfig (bench.config_file.resolve_with_file); the data root is
        bench.data.paths.default_data_root when neither the options nor the file give one."""
        from bench.config_file import read_config_file, resolve_with_file
        from bench.data.paths import default_data_root

        file_cfg = read_config_file(self.config) if self.config is not None else {}
        cli = self.to_overrides()
        if self.data_root is None and (file_cfg.get("data") or {}).get("data_root") is None:
            cli["data.data_root"] = str(default_data_root())
        return resolve_with_file(
            file_cfg,
            self.backbone,
            self.method,
            self.dataset,
            self.preset,
            self.profile,
            cli,
            list(self.overrides),
            self.scale,
        )


def override(key: str, value: Any) -> str:
    """One ``--set`` string: strings as they are, anything else as JSON (valid YAML), so
    bench.config.parse_value reads back ``value``."""
    return f"{key}={value if isinstance(value, str) else json.dumps(value)}"
