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
    backbone: Annotated[str | None, _Opt(help="Backbone name (bench list).")] = None,
    method: Annotated[
        str | None, _Opt(help="none | noisy-nodes | denoise-no-force | dens.")
    ] = None,
    dataset: Annotated[
        str | None, _Opt(help="md17 | rmd17 | npz | ase | oc20-traj | oc20 | oc22.")
    ] = None,
    config: Annotated[
        Path | None,
        _Opt(
            help="A run config file (YAML, the shape of a run's config.yaml); options and --set "
            "go on top."
        ),
    ] = None,
    molecule: Annotated[str | None, _Opt(help="MD17/rMD17 molecule, e.g. aspirin.")] = None,
    labels: Annotated[str | None, _Opt(help="rMD17 labels: original | revised.")] = None,
    data_root: Annotated[Path | None, _Opt(help="Folder with one folder per dataset.")] = None,
    path: Annotated[Path | None, _Opt(help="A data file or folder (npz, ase, LMDB...).")] = None,
    preset: Annotated[
        str | None,
        _Opt(
            help="Network size: a backbone preset (ci | paper | paper-l3 ...; "
            "bench/backbones/presets) [default: ci]."
        ),
    ] = None,
    scale: Annotated[
        str | None,
        _Opt(
            help="Training scale: ci (a few tiny steps) | paper (the profile's epochs and "
            "splits) [default: the --preset name when it is a scale, else paper]."
        ),
    ] = None,
    profile: Annotated[str | None, _Opt(help="paper-v1 | released [default: paper-v1].")] = None,
    variant: Annotated[
        str | None,
        _Opt(
            help="A named variant of the profile (its `variants:`), e.g. epochs20, "
            "dens-lambda-e0 (bench report --table 1e --commands lists them)."
        ),
    ] = None,
    seed: Annotated[
        int | None, _Opt(help="Seed of init, data order, corruption [default: 0].")
    ] = None,
    epochs: Annotated[int | None, _Opt(help="Train this many epochs.")] = None,
    max_steps: Annotated[int | None, _Opt(help="Train this many optimiser steps.")] = None,
    device: Annotated[str | None, _Opt(help="cpu | cuda [default: cpu].")] = None,
    results: Annotated[Path | None, _Opt(help="Results folder [default: results].")] = None,
    run_id: Annotated[str | None, _Opt(help="Run directory name (default: derived).")] = None,
    resume: Annotated[bool, _Opt("--resume", help="Continue an existing run.")] = False,
    overrides: Annotated[list[str] | None, _Opt("--set", help="Dotted key=value.")] = None,
    log: Annotated[
        str | None,
        _Opt(
            "--log",
            help="Extra log outputs beside log.jsonl: csv, tensorboard, wandb (comma-separated).",
        ),
    ] = None,
    dist_backend: Annotated[
        str | None,
        _Opt(
            help="Under torchrun: process-group backend nccl | gloo (default: nccl on cuda, "
            "gloo on cpu)."
        ),
    ] = None,
) -> None:
    """Train one backbone x method on a dataset; the LAST stdout line is the run directory.

    Progress and a start-up summary go to stderr (a bar on a terminal, plain lines in batch
    jobs). `torchrun --nproc_per_node G -m bench.cli run ...` trains one run on G processes
    with DistributedDataParallel (train.batch_size per process); rank 0 alone prints and
    writes.
    """
    from bench.run_request import RunRequest
    from bench.train.sinks import check_sinks

    sinks = check_sinks([x.strip() for x in log.split(",") if x.strip()] if log else [])
    request = RunRequest(
        backbone=backbone,
        method=method,
        dataset=dataset,
        config=config,
        seed=seed,
        preset=preset,
        scale=scale,
        molecule=molecule,
        labels=labels,
        path=path,
        profile=profile,
        variant=variant,
        max_steps=max_steps,
        epochs=epochs,
        device=device,
        data_root=data_root,
        overrides=tuple(overrides or ()),
        results=results,
        run_id=run_id,
    )
    train_request(request, resume, dist_backend, sinks)


def train_request(
    request, resume: bool = False, backend: str | None = None, sinks: tuple[str, ...] = ()
) -> None:
    """Resolve ``request`` (a bench.run_request.RunRequest), train it, print its metrics
    and, last, its run directory; exit 1 unless the run is done."""
    from bench.records import read_record
    from bench.train.distributed import is_main_process
    from bench.train.interrupt import InterruptedRunError, RunInterrupted
    from bench.train.run import run_training

    cfg = request.resolve()
    try:
        run_dir = run_training(
            cfg,
            command=shlex.join(["bench", *sys.argv[1:]]),
            resume=resume,
            backend=backend,
            log_sinks=sinks,
        )
    except RunInterrupted as exc:
        raise InterruptedRunError(exc) from exc
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
    run: Annotated[Path, _Opt(help="A finished run directory, or a bench export model file.")],
    split: Annotated[str, _Opt(help="train | val | test (without --path).")] = "test",
    path: Annotated[
        Path | None, _Opt(help="Evaluate on this file instead (extxyz, .traj, ASE db, npz).")
    ] = None,
    output: Annotated[Path | None, _Opt(help="--path: write predictions here (extxyz).")] = None,
    data_root: Annotated[Path | None, _Opt(help="Data root (default: the run's).")] = None,
    device: Annotated[str, _Opt(help="cpu | cuda.")] = "cpu",
    as_json: Annotated[bool, _Opt("--json", help="Print one JSON object.")] = False,
) -> None:
    """Re-evaluate a run's final weights (no noise, no force encoding) on one of its splits,
    or on any labelled file with --path; predictions go to RUN/predictions.npz."""
    from bench.eval import SPLITS, evaluate_run

    if path is not None:
        from bench.eval_file import evaluate_file

        result = evaluate_file(run, path, output, device)
    elif output is not None:
        raise ConfigError("--output goes with --path FILE")
    elif split not in SPLITS:
        raise ConfigError(f"--split must be one of {SPLITS}, got {split!r}")
    elif not run.exists():
        raise ConfigError(f"{run}: no such run directory")
    elif not run.is_dir():
        raise ConfigError(
            f"{run}: --split needs a run directory (a model file has no data; give --path FILE)"
        )
    else:
        result = evaluate_run(run, split, None if data_root is None else str(data_root), device)
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    for key, value in result["metrics"].items():
        typer.echo(f"{key}: {value}")
    for name, metrics in result.get("subsplits", {}).items():
        typer.echo(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    for written in result.get("written", []):
        typer.echo(f"wrote {written}")


def export_cmd(
    run: Annotated[Path, _Opt(help="A finished run directory.")],
    output: Annotated[Path, _Opt(help="The model file to write (e.g. model.pt).")],
    torchscript: Annotated[
        bool,
        _Opt(
            help="Write a traced TorchScript energy model instead (bench.torchscript); "
            "gradient-force models only."
        ),
    ] = False,
) -> None:
    """Write one self-contained model file (config, normalisation, weights, version) that
    `bench eval --run FILE` and bench.calculator.DensBenchCalculator load on their own, or with
    --torchscript a file `torch.jit.load` reads (bench.torchscript.load_torchscript)."""
    if torchscript:
        from bench.torchscript import export_torchscript

        typer.echo(export_torchscript(run, output))
        return
    from bench.export import export_run

    typer.echo(export_run(run, output))


def register(app: typer.Typer) -> None:
    """Add `run`, `eval` and `export` to ``app``."""
    app.command("run")(run_cmd)
    app.command("eval")(eval_cmd)
    app.command("export")(export_cmd)
