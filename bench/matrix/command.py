"""Command lines of one run: ``bench run ...``, optionally under torchrun."""

from __future__ import annotations

import sys

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
    """The arguments of ``bench run`` (after the program) for one grid point:
    ``point.request(...).argv()``, plus ``--resume``."""
    args = point.request(results, run_id, data_root).argv()
    return [*args, "--resume"] if resume else args


def torchrun_argv(nproc_per_node: int, args: list[str]) -> list[str]:
    """``torchrun --standalone --nproc_per_node G -m bench.cli <args>``: one run on G local
    GPUs (DistributedDataParallel inside ``bench run``)."""
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be >= 1, got {nproc_per_node!r}")
    return [
        "torchrun",
        "--standalone",
        "--nproc_per_node",
        str(nproc_per_node),
        "-m",
        "bench.cli",
        *args,
    ]
