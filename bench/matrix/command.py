"""Command lines of one run: ``bench run ...``, optionally under torchrun."""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.matrix.grid import GridPoint


def default_runner() -> tuple[str, ...]:
    """``python -m bench.cli`` with this interpreter (works without the ``bench`` script)."""
    return (sys.executable, "-m", "bench.cli")


def run_args(
    point: GridPoint,
    results: str,
    run_id: str,
    data_root: str | None = None,
    resume: bool = False,
) -> list[str]:
    """The arguments of ``bench run`` (after the program) for one grid point."""
    args = ["run", "--backbone", point.backbone, "--method", point.method]
    args += ["--dataset", point.dataset, "--seed", str(point.seed), "--preset", point.preset]
    optional = {
        "--molecule": point.molecule,
        "--profile": point.profile,
        "--max-steps": point.max_steps,
        "--epochs": point.epochs,
        "--device": point.device,
        "--data-root": data_root,
    }
    for flag, value in optional.items():
        if value is not None:
            args += [flag, str(value)]
    for key in sorted(point.overrides):
        args += ["--set", f"{key}={format_value(point.overrides[key])}"]
    args += ["--results", results, "--run-id", run_id]
    if resume:
        args.append("--resume")
    return args


def format_value(value: Any) -> str:
    """A ``--set`` value as text: strings as they are, anything else as JSON (valid YAML)."""
    return value if isinstance(value, str) else json.dumps(value)


def torchrun_argv(nproc_per_node: int, args: list[str]) -> list[str]:
    """``torchrun --standalone --nproc_per_node G -m bench.cli <args>``: one run on G local
    GPUs (DistributedDataParallel inside ``bench run``)."""
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be >= 1, got {nproc_per_node!r}")
    return ["torchrun", "--standalone", "--nproc_per_node", str(nproc_per_node),
            "-m", "bench.cli", *args]
