"""The `bench` command line. Each command parses, builds a config and calls one library
function; command groups live in bench/commands/<group>.py, each exposing ``register(app)``.
"""

from __future__ import annotations

import importlib
import sys

import typer

from bench.errors import BenchError

app = typer.Typer(
    name="bench",
    help="dens-bench: run and report denoising (DeNS) regimes across force-field backbones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """dens-bench: run and report denoising (DeNS) regimes across force-field backbones."""


#: command modules, in the order `bench --help` lists them
COMMAND_MODULES = (
    "bench.commands.data",
    "bench.commands.catalog",
    "bench.commands.params",
    "bench.commands.train",
    "bench.commands.report",
    "bench.commands.matrix",
    "bench.commands.perf",
    "bench.commands.relax",
    "bench.commands.imports",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Entry point: user-facing errors print one line and exit with code 2."""
    try:
        code = app(standalone_mode=False)  # typer.Exit(n) raised in a command returns n
        if isinstance(code, int) and code:
            sys.exit(code)
    except BenchError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.secho("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":  # `python -m bench.cli` (torchrun -m bench.cli, matrix runs)
    main()
