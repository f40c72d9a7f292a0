"""The `bench` command line. Each command parses, builds a config and calls one library
function; command groups live in bench/commands/<group>.py, each exposing ``register(app)``.
"""

from __future__ import annotations

import importlib
import os
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

#: set to 1 to see the traceback of an unexpected error instead of its one-line summary
DEBUG_VAR = "DENS_BENCH_DEBUG"


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
    """Entry point: bad input and usage errors print one line and exit 2 (a BenchError its
    own code); an unexpected error prints one line and exits 1 (traceback with
    ``DENS_BENCH_DEBUG=1``)."""
    try:
        code = app(prog_name="bench", standalone_mode=False)  # typer.Exit(n) returns n
        if isinstance(code, int) and code:
            sys.exit(code)
    except BenchError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.TyperException as exc:  # usage errors of typer's own (vendored) click
        _fail(f"error: {exc.format_message()}{_help_hint(exc)}", exc.exit_code)
    except Exception as exc:
        if os.environ.get(DEBUG_VAR, "") not in ("", "0"):
            raise
        _fail(
            f"error: unexpected {type(exc).__name__}: {exc} (set {DEBUG_VAR}=1 for the traceback)",
            1,
        )


def _help_hint(exc: Exception) -> str:
    """`` (see 'bench run --help')`` for an error raised while parsing a command line."""
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} --help')" if ctx is not None else ""


def _fail(message: str, code: int) -> None:
    """Print ``message`` as one red line on stderr and exit with ``code``."""
    typer.secho(" ".join(message.split()), fg="red", err=True)
    sys.exit(code)


if __name__ == "__main__":  # `python -m bench.cli` (torchrun -m bench.cli, matrix runs)
    main()
