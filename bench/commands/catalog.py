"""CLI: `bench list` (what backbones, methods and datasets are known)."""

from __future__ import annotations

import json

import typer


def catalog() -> dict[str, list[str]]:
    """Names known to this installation."""
    from bench.backbones.registry import BACKBONES
    from bench.data.registry import DATASETS
    from bench.methods import METHODS

    return {
        "backbones": sorted(BACKBONES),
        "methods": list(METHODS),
        "datasets": sorted(DATASETS),
    }


def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List the backbones, methods and datasets known."""
    cat = catalog()
    if as_json:
        typer.echo(json.dumps(cat, indent=2))
        return
    for kind, names in cat.items():
        typer.echo(f"{kind}: {', '.join(names)}")


def register(app: typer.Typer) -> None:
    app.command("list")(list_cmd)
