"""CLI: `bench relax` (IS2RE by relaxation with a trained run's model; bench.relax)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

_Opt = typer.Option


def relax_cmd(
    run: Annotated[Path, _Opt(help="A finished run directory.")],
    structures: Annotated[
        Path | None,
        _Opt(
            help="File or folder of ASE files; each file is one relaxation (first frame = initial, "
            "last frame = DFT relaxed reference). Default: the run's data path."
        ),
    ] = None,
    optimizer: Annotated[str, _Opt(help="lbfgs | fire | bfgs.")] = "lbfgs",
    fmax: Annotated[float, _Opt(help="Stop when max |F| over free atoms <= fmax (eV/A).")] = 0.05,
    steps: Annotated[int, _Opt(help="Maximum optimiser steps per structure.")] = 200,
    output: Annotated[Path | None, _Opt(help="Output folder (default RUN/relax).")] = None,
    split: Annotated[
        str | None,
        _Opt(help="Only the run's train | val | test trajectories (runs split by trajectory)."),
    ] = None,
    device: Annotated[str, _Opt(help="cpu | cuda.")] = "cpu",
    record_split: Annotated[
        str | None,
        _Opt(
            help="Add the IS2RE metrics to the run record under this split, e.g. test (where "
            "bench report reads IS2RE columns)."
        ),
    ] = None,
    as_json: Annotated[bool, _Opt("--json", help="Print the report as one JSON object.")] = False,
) -> None:
    """Relax initial structures with a trained model; report IS2RE energy MAE and convergence."""
    from bench.relax import relax_run

    report = relax_run(run, structures, optimizer, fmax, steps, output, split, device, record_split)
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    for row in report["results"]:
        state = "converged" if row["converged"] else "NOT converged"
        typer.echo(
            f"{row['name']}: {state} in {row['steps']} steps, "
            f"E_pred {row['energy_relaxed_pred_ev']:.4f} eV, "
            f"E_DFT {_fmt(row['energy_relaxed_dft_ev'])} eV"
        )
    for key, value in report["summary"].items():
        typer.echo(f"{key}: {_fmt(value)}")
    typer.echo(report["output"])


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def register(app: typer.Typer) -> None:
    """Add `relax` to ``app``."""
    app.command("relax")(relax_cmd)
