"""CLI: `bench run` (train, evaluate and record one run; under torchrun, data parallel) and
`bench eval` (re-evaluate one)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from bench.errors import ConfigError

_Opt = typer.Option


def run_cmd(
    backbone: Annotated[str, _Opt(help="Backbone name (bench list).")],
    method: Annotated[str, _Opt(help="none | noisy-nodes | denoise-no-force | dens.")],
    dataset: Annotated[str, _Opt(help="md17 | rmd17 | npz | ase | oc20-traj | oc20 | oc22.")],
    molecule: Annotated[str | None, _Opt(help="MD17/rMD17 molecule, e.g. aspirin.")] = None,
    labels: Annotated[str | None, _Opt(help="rMD17 labels: original | revised.")] = None,
    data_root: Annotated[Path | None, _Opt(help="Folder with one folder per dataset.")] = None,
    path: Annotated[Path | None, _Opt(help="A data file or folder (npz, ase, LMDB...).")] = None,
    preset: Annotated[str, _Opt(help="Backbone preset and training scale.")] = "ci",
    profile: Annotated[str, _Opt(help="paper-v1 | released.")] = "paper-v1",
    seed: Annotated[int, _Opt(help="Seed of init, data order, corruption.")] = 0,
    epochs: Annotated[int | None, _Opt(help="Train this many epochs.")] = None,
    max_steps: Annotated[int | None, _Opt(help="Train this many optimiser steps.")] = None,
    device: Annotated[str, _Opt(help="cpu | cuda.")] = "cpu",
    results: Annotated[Path, _Opt(help="Results folder.")] = Path("results"),
    run_id: Annotated[str | None, _Opt(help="Run directory name (default: derived).")] = None,
    resume: Annotated[bool, _Opt("--resume", help="Continue an existing run.")] = False,
    overrides: Annotated[list[str] | None, _Opt("--set", help="Dotted key=value.")] = None,
    dist_backend: Annotated[str | None, _Opt(
        help="Under torchrun: process-group backend nccl | gloo (default: nccl on cuda, "
             "gloo on cpu).")] = None,
) -> None:
    """Train one backbone x method on a dataset; the LAST stdout line is the run directory.

    `torchrun --nproc_per_node G -m bench.cli run ...` trains one run on G processes with
    DistributedDataParallel (train.batch_size per process); rank 0 alone prints and writes.
    """
    from bench.config import resolve_config
    from bench.data.paths import default_data_root
    from bench.records import read_record
    from bench.train.distributed import is_main_process
    from bench.train.run import run_training

    if epochs is not None and max_steps is not None:
        raise ConfigError("--epochs and --max-steps are mutually exclusive")
    options = {
        "data.molecule": molecule, "data.labels": labels, "data.path": path, "seed": seed,
        "data.data_root": str(data_root or default_data_root()), "device": device,
        "results": str(results), "run_id": run_id,
    }
    cli = {k: str(v) if isinstance(v, Path) else v for k, v in options.items() if v is not None}
    if epochs is not None:
        cli |= {"train.epochs": epochs, "train.max_steps": None}
    if max_steps is not None:
        cli["train.max_steps"] = max_steps
    cfg = resolve_config(backbone, method, dataset, preset, profile, cli, overrides or [])
    run_dir = run_training(cfg, command=shlex.join(["bench", *sys.argv[1:]]), resume=resume,
                           backend=dist_backend)
    record = read_record(run_dir)
    if not is_main_process():
        raise typer.Exit(0 if record.status == "done" else 1)
    for split, metrics in record.metrics.items():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        typer.echo(f"{split}: {shown}")
    if record.status != "done":
        typer.echo(f"status {record.status}: {record.failure}", err=True)
    typer.echo(str(run_dir))
    if record.status != "done":
        raise typer.Exit(1)


def eval_cmd(
    run: Annotated[Path, _Opt(help="A finished run directory.")],
    split: Annotated[str, _Opt(help="train | val | test.")] = "test",
    data_root: Annotated[Path | None, _Opt(help="Data root (default: the run's).")] = None,
    device: Annotated[str, _Opt(help="cpu | cuda.")] = "cpu",
    as_json: Annotated[bool, _Opt("--json", help="Print one JSON object.")] = False,
) -> None:
    """Re-evaluate a finished run's final weights (no noise, no force encoding)."""
    from bench.eval import SPLITS, evaluate_run

    if split not in SPLITS:
        raise ConfigError(f"--split must be one of {SPLITS}, got {split!r}")
    result = evaluate_run(run, split, None if data_root is None else str(data_root), device)
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    for key, value in result["metrics"].items():
        typer.echo(f"{key}: {value}")
    for name, metrics in result.get("subsplits", {}).items():
        typer.echo(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))


def register(app: typer.Typer) -> None:
    """Add `run` and `eval` to ``app``."""
    app.command("run")(run_cmd)
    app.command("eval")(eval_cmd)
