"""CLI: `bench matrix` (a grid of runs on local CPUs, torchrun or SLURM) and `bench ci-check`
(a fixed small matrix compared with a committed baseline)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer


def _pairs(pairs: list[str] | None, option: str) -> dict[str, Any] | None:
    """``["k=v", ...]`` -> ``{k: v}`` (bench.config.parse_pairs), None when none given."""
    from bench.config import parse_pairs

    return parse_pairs(pairs, option) if pairs else None


def matrix_cmd(
    spec: Annotated[Path | None, typer.Option(help="YAML matrix spec; options below win.")] = None,
    backbones: Annotated[str | None, typer.Option(help="Comma-separated backbones.")] = None,
    methods: Annotated[str | None, typer.Option(help="Comma-separated methods.")] = None,
    datasets: Annotated[str | None, typer.Option(help="Comma-separated datasets.")] = None,
    molecules: Annotated[str | None, typer.Option(help="MD17/rMD17 molecules (a,b).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds (default: 0).")] = None,
    preset: Annotated[
        str | None, typer.Option(help="Network size: a backbone preset (default: ci).")
    ] = None,
    scale: Annotated[
        str | None,
        typer.Option(help="Training scale: ci | paper (default: the preset's name, else paper)."),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="paper-v1 or released.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Steps per run.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs per run.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda.")] = None,
    data_root: Annotated[str | None, typer.Option(help="Data root folder.")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="key=value passed to every run.")
    ] = None,
    launcher: Annotated[str | None, typer.Option(help="local, torchrun or slurm.")] = None,
    jobs: Annotated[int | None, typer.Option(help="local: runs at a time (default: 1).")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads per run.")] = None,
    gpus: Annotated[int | None, typer.Option(help="torchrun: GPUs per run (default: 1).")] = None,
    slurm: Annotated[
        list[str] | None, typer.Option("--slurm", help="SLURM resource key=value.")
    ] = None,
    results: Annotated[str | None, typer.Option(help="Results folder (default: results).")] = None,
    runner: Annotated[
        str | None, typer.Option(help="Command doing one run (default: python -m bench.cli).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print, launch nothing.")] = False,
) -> None:
    """Run backbones x methods x datasets x seeds; skip finished runs, resume unfinished ones,
    show a live table of states. Exits 1 when a run failed."""
    from bench.matrix import dry_run as print_plan
    from bench.matrix import load_spec, run_matrix, spec_from_dict

    given = {
        "backbones": backbones,
        "methods": methods,
        "datasets": datasets,
        "molecules": molecules,
        "seeds": seeds,
        "preset": preset,
        "scale": scale,
        "profile": profile,
        "max_steps": max_steps,
        "epochs": epochs,
        "device": device,
        "data_root": data_root,
        "overrides": _pairs(overrides, "--set"),
        "launcher": launcher,
        "jobs": jobs,
        "threads": threads,
        "gpus": gpus,
        "slurm": _pairs(slurm, "--slurm"),
        "results": results,
        "runner": shlex.split(runner) if runner else None,
    }
    given = {k: v for k, v in given.items() if v is not None}
    matrix = load_spec(spec, **given) if spec else spec_from_dict(given, "command line")
    if dry_run:
        typer.echo(print_plan(matrix), nl=False)
        return
    if run_matrix(matrix).failed:
        raise typer.Exit(1)


def ci_check_cmd(
    baseline: Annotated[Path | None, typer.Option(help="Baseline (default: packaged).")] = None,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="Compare every backbone x method with the baseline (2e-6 relative on "
            "forces) instead of checking that they learn.",
        ),
    ] = False,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Rewrite the baseline (implies --exact).")
    ] = False,
    results: Annotated[str | None, typer.Option(help="Results folder (default: temp).")] = None,
    data_root: Annotated[str | None, typer.Option(help="Data root (default: tests/data).")] = None,
    jobs: Annotated[int, typer.Option(help="Runs at a time (1 thread each).")] = 2,
    runner: Annotated[
        str | None, typer.Option(help="Command doing one run (default: python -m bench.cli).")
    ] = None,
) -> None:
    """Check that every backbone learns (ci preset, methods none and dens, 150-300 steps on
    the packaged rMD17 subset: training loss and validation force MAE must fall by x1.2;
    bench/configs/ci_learning.yaml), or with --exact compare the fixed CI matrix (every
    backbone x method, 20 steps) with the baseline. Exits 1 on a regression."""
    from bench.ci_check import DEFAULT_BASELINE, run_ci_check

    outcome = run_ci_check(
        baseline or DEFAULT_BASELINE,
        update_baseline,
        results,
        data_root,
        shlex.split(runner) if runner else None,
        jobs=jobs,
        exact=exact,
    )
    typer.echo(outcome.text, nl=False)
    if not outcome.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `matrix` and `ci-check` to ``app``."""
    app.command("matrix")(matrix_cmd)
    app.command("ci-check")(ci_check_cmd)
