"""CLI: `bench report` (a paper table beside reproduced runs, a summary of all runs, plots)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.errors import ConfigError


def report_cmd(
    table: str | None = typer.Option(
        None, "--table", help="Paper table id: 1a-1e, 2-6 (results), 7-9 (hyper-parameters)."
    ),
    summary: bool = typer.Option(False, "--summary", help="All runs, and each method vs none."),
    perf: bool = typer.Option(False, "--perf", help="The bench perf records of RESULTS/perf."),
    paired: bool = typer.Option(
        False,
        "--paired",
        help="Per-arm mean ± std, paired contrasts (also pooled per scale), plateau check.",
    ),
    plot: str | None = typer.Option(
        None, "--plot", help="learning-curves | parity | sample-efficiency (needs --output)."
    ),
    fmt: str = typer.Option("md", "--format", help="md | latex | csv."),
    results: Annotated[
        Path | None,
        typer.Option(
            "--results",
            help="Results directory (default: ./results; --table without it and "
            "without ./results shows the paper values only).",
        ),
    ] = None,
    profile: str | None = typer.Option(
        None, "--profile", help="--table: only paper values and runs of this profile."
    ),
    output: Annotated[
        Path | None, typer.Option("--output", help="Write here (atomically).")
    ] = None,
    sort: str | None = typer.Option(None, "--sort", help="--summary: sort runs by this column."),
    commands: bool = typer.Option(
        False,
        "--commands",
        help="--table: the `bench run` command of every row at the "
        "paper's scale, with GPU-hours from the paper (md: shell).",
    ),
    molecule: str | None = typer.Option(
        None, "--molecule", help="--table: one molecule's columns."
    ),
    preset: str | None = typer.Option(None, "--preset", help="--table: runs of this preset."),
    paper_scale_only: bool = typer.Option(
        False, "--paper-scale-only", help="--table: paper-scale runs only."
    ),
) -> None:
    """Report runs: paper tables side by side with reproduced runs, a summary, perf records,
    or a plot."""
    from bench.io import write_text_atomic
    from bench.reports import load_runs, report_table
    from bench.reports.paper import PROFILES

    if sum((table is not None, summary, perf, paired, plot is not None)) != 1:
        raise ConfigError("give exactly one of --table N, --summary, --perf, --paired, --plot KIND")
    if profile is not None and (table is None or profile not in PROFILES):
        raise ConfigError(
            f"--profile goes with --table and is one of {', '.join(PROFILES)}; got {profile!r}"
        )
    if table is None and (commands or molecule or preset or paper_scale_only):
        raise ConfigError(
            "--commands, --molecule, --preset and --paper-scale-only go with --table N"
        )
    if plot is not None:
        from bench.reports.plots import make_plot

        if output is None:
            raise ConfigError("--plot needs --output FILE.png")
        typer.echo(make_plot(plot, load_runs(results or Path("results")), output))
        return
    if table is not None:
        text = report_table(
            table,
            _table_results(results),
            fmt,
            profile,
            molecule=molecule,
            preset=preset,
            paper_scale_only=paper_scale_only,
            commands=commands,
        )
    elif perf:
        from bench.reports.perf import render_perf

        text = render_perf((results or Path("results")) / "perf", fmt)
    elif paired:
        from bench.reports.paired import render_paired

        text = render_paired(load_runs(results or Path("results")), fmt)
    else:
        from bench.reports.summary import render_summary

        text = render_summary(load_runs(results or Path("results")), fmt, sort)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text_atomic(output, text)
        typer.echo(output)


def _table_results(results: Path | None) -> Path | None:
    """``--results``, else ./results when it exists, else None (the paper's values only)."""
    if results is not None:
        return results
    return Path("results") if Path("results").is_dir() else None


def register(app: typer.Typer) -> None:
    """Add `bench report` to ``app``."""
    app.command("report")(report_cmd)
