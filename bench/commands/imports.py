"""CLI: `bench import` (a released checkpoint -> a dens-bench run directory; bench.imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_Opt = typer.Option


def import_cmd(
    file: Annotated[Path, typer.Argument(help="The released checkpoint (.pt).")],
    layout: Annotated[str, _Opt("--from", help="Checkpoint layout: dens | fairchem | equiformer.")],
    output: Annotated[
        Path | None, _Opt(help="Run directory to create (default results/imported/<file stem>).")
    ] = None,
    dataset: Annotated[
        str | None, _Opt(help="md17 | oc20 | oc22 (default: the layout's, or its config's).")
    ] = None,
    dtype: Annotated[str, _Opt(help="float32 (as released) | float64.")] = "float32",
) -> None:
    """Turn a released checkpoint into a run directory that bench eval / relax / export use."""
    from bench.imports.registry import import_checkpoint

    out, imported = import_checkpoint(layout, file, output, dataset, dtype)
    typer.echo(
        f"{file}: {imported.source.get('model')} -> {imported.backbone} "
        f"({imported.weights} weights)"
    )
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    """Add `import` to ``app``."""
    app.command("import")(import_cmd)
