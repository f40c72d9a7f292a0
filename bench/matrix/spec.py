"""A matrix of runs as typed configuration: which grid to expand and how to launch it.

A YAML spec (``bench matrix --spec matrix.yaml``) holds the fields of MatrixSpec; the
``slurm`` key holds the fields of SlurmResources. It is read by bench.typed, the loader of
run configs too: unknown keys are an error, values must have the field's type, and lists
may be given as YAML lists or as comma-separated strings (as on the command line)::

    backbones: [equiformer, schnet]
    methods: none,dens
    datasets: [rmd17]
    molecules: [aspirin]
    seeds: [0, 1, 2]
    preset: ci
    max_steps: 200
    overrides: {lr: 0.0005}
    launcher: slurm
    slurm: {partition: gpu, time_min: 600, gpus_per_node: 1, cpus_per_task: 8}
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError
from bench.registry import did_you_mean
from bench.typed import build_dataclass, safe_load

LAUNCHERS = ("local", "torchrun", "slurm")
#: datasets whose runs expand over the ``molecules`` axis
MOLECULE_DATASETS = ("md17", "rmd17")


@dataclass(frozen=True)
class SlurmResources:
    """Resources of one SLURM job (one array task = one run).

    Attributes:
        time_min: wall-clock limit in minutes.
        gpus_per_node: GPUs per job; above 1 the run is started with torchrun.
        mem_gb: memory per job in GB; None leaves the cluster default.
        array_parallelism: at most this many array tasks run at once.
        setup: shell lines run before the job (module load, conda activate, ...).
    """

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    time_min: int = 60
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 2
    mem_gb: float | None = None
    array_parallelism: int = 64
    setup: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("time_min", "nodes", "cpus_per_task", "array_parallelism"):
            if getattr(self, name) < 1:
                raise ConfigError(f"slurm.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.gpus_per_node < 0:
            raise ConfigError(f"slurm.gpus_per_node must be >= 0, got {self.gpus_per_node!r}")
        if self.nodes != 1:
            raise ConfigError(f"slurm.nodes: one run uses one node, got {self.nodes!r}")


@dataclass(frozen=True)
class MatrixSpec:
    """The grid (backbones x methods x datasets[x molecules] x seeds) and how to run it.

    Attributes:
        molecules: expands md17/rmd17 runs only; empty leaves ``bench run``'s default.
        preset, scale: network size and training scale, as ``bench run --preset/--scale``.
        overrides: ``--set key=value`` pairs passed to every run (part of its identity).
        max_steps, epochs: training length passed to every run (part of its identity).
        data_root: where the data lives (not part of a run's identity).
        results: results directory; run ``<id>`` lives in ``results/<id>/``.
        jobs: local launcher: runs at a time.
        threads: CPU threads per run (OMP_NUM_THREADS and torch); None = cores // jobs.
        gpus: torchrun launcher: processes (GPUs) per run.
        runner: the command that performs one run; None = ``python -m bench.cli``.
    """

    backbones: tuple[str, ...]
    methods: tuple[str, ...]
    datasets: tuple[str, ...]
    molecules: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    preset: str = "ci"
    scale: str | None = None
    profile: str | None = None
    max_steps: int | None = None
    epochs: int | None = None
    device: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    results: str = "results"
    launcher: str = "local"
    jobs: int = 1
    threads: int | None = None
    gpus: int = 1
    runner: tuple[str, ...] | None = None
    slurm: SlurmResources = field(default_factory=SlurmResources)

    def __post_init__(self) -> None:
        for name in ("backbones", "methods", "datasets", "seeds"):
            if not getattr(self, name):
                raise ConfigError(f"matrix: {name!r} must name at least one value")
        if self.launcher not in LAUNCHERS:
            raise ConfigError(f"matrix: launcher {did_you_mean(self.launcher, LAUNCHERS)}")
        torchrun = self.launcher == "torchrun" or (
            self.launcher == "slurm" and self.slurm.gpus_per_node > 1
        )
        if self.runner and torchrun:
            raise ConfigError(
                "matrix: 'runner' cannot be used with torchrun, which always starts `-m bench.cli`"
            )
        if self.max_steps is not None and self.epochs is not None:
            raise ConfigError("matrix: give 'max_steps' or 'epochs', not both")
        for name in ("jobs", "gpus", "threads", "max_steps", "epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"matrix: {name!r} must be >= 1, got {value!r}")

    def threads_per_run(self) -> int:
        """CPU threads each run gets: ``threads`` or the machine's cores split over jobs."""
        if self.threads is not None:
            return self.threads
        return max(1, (os.cpu_count() or 1) // self.jobs)


def validate_names(spec: MatrixSpec) -> None:
    """Reject backbone, method and dataset names that no registry knows (did-you-mean)."""
    from bench.backbones.registry import BACKBONES
    from bench.data.registry import DATASETS
    from bench.methods import METHODS

    for kind, names, known in (
        ("backbone", spec.backbones, BACKBONES),
        ("method", spec.methods, METHODS),
        ("dataset", spec.datasets, DATASETS),
    ):
        for name in names:
            if name not in known:
                raise ConfigError(f"matrix: {kind} {did_you_mean(name, tuple(known))}")


def load_spec(path: str | Path, **overrides: Any) -> MatrixSpec:
    """Read a YAML spec; non-None ``overrides`` (e.g. CLI options) replace its keys
    (mappings such as ``overrides`` and ``slurm`` are merged key by key)."""
    path = Path(path)
    try:
        data = safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such matrix spec") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a matrix spec is a mapping, got {type(data).__name__}")
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        elif value is not None:
            data[key] = value
    return spec_from_dict(data, source=str(path))


def spec_from_dict(data: dict[str, Any], source: str = "matrix") -> MatrixSpec:
    """Build a MatrixSpec from plain values with the one dataclass loader (bench.typed:
    unknown keys and wrong types raise ConfigError naming ``source`` and the key)."""
    data = dict(data)
    if isinstance(data.get("runner"), str):
        data["runner"] = shlex.split(data["runner"])
    return build_dataclass(MatrixSpec, data, source)
