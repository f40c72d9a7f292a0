"""CLI: `bench params` (parameter count of a backbone at a preset)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bench.config import parse_pairs
from bench.errors import ConfigError


def parameter_count(
    backbone: str, dataset: str, preset: str, dens: bool, overrides: dict[str, Any]
) -> dict[str, Any]:
    """Build ``backbone`` and count its trainable parameters (the model is built, not trained)."""
    from bench.backbones.registry import build_backbone

    try:
        model = build_backbone(
            backbone, preset, dataset, force_encoding=dens, noise_head=dens, **overrides
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"backbone {backbone!r} ({preset}, {dataset}): {exc}") from exc
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "backbone": backbone,
        "dataset": dataset,
        "preset": preset,
        "dens": dens,
        "overrides": overrides,
        "params": n,
        "params_millions": round(n / 1e6, 3),
    }


def params_cmd(
    backbone: str = typer.Option(..., "--backbone", help="Backbone name (see `bench list`)."),
    dataset: str = typer.Option("md17", "--dataset", help="Preset dataset: md17, oc20, oc22."),
    preset: str = typer.Option(
        "paper", "--preset", help="Network size: a backbone preset (ci, paper, paper-l3, ...)."
    ),
    dens: bool = typer.Option(False, "--dens", help="Include the DeNS force encoding and head."),
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a preset option, KEY=VALUE (YAML value); repeatable."),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Count the parameters of a backbone at a preset."""
    result = parameter_count(backbone, dataset, preset, dens, parse_pairs(overrides or []))
    if as_json:
        typer.echo(json.dumps(result))
        return
    extra = " + DeNS" if dens else ""
    typer.echo(
        f"{backbone}{extra} ({preset}, {dataset}): {result['params']:,} parameters "
        f"({result['params_millions']:.2f}M)"
    )


def register(app: typer.Typer) -> None:
    """Add `bench params` to ``app``."""
    app.command("params")(params_cmd)
