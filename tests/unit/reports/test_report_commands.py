"""`bench report --table N --commands`: every row's command resolves to a config that the
report matches back to that row; GPU-hours come from the paper's own time columns."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.config import resolve_config
from bench.reports.commands import render_commands, table_commands
from bench.reports.match import match_run
from bench.reports.paper import load_table
from bench.reports.runs import Run

RUNNABLE = ("1a", "1b", "1c", "1d", "1e", "4", "5", "6")


def _resolve(argv: tuple[str, ...]):
    """The RunConfig `bench run` would build from ``argv`` (options as in bench run)."""
    args, sets = dict(zip(argv[1::2], argv[2::2], strict=False)), []
    for flag, value in zip(argv[1::2], argv[2::2], strict=False):
        if flag == "--set":
            sets.append(value)
    cli = {k: args[f"--{k}"] for k in ("variant",) if f"--{k}" in args}
    if "--molecule" in args:
        cli["data.molecule"] = args["--molecule"]
    return resolve_config(
        args["--backbone"],
        args["--method"],
        args["--dataset"],
        args["--preset"],
        args["--profile"],
        cli,
        sets,
    )


@pytest.mark.parametrize("table_id", RUNNABLE)
def test_every_row_command_resolves_to_that_row(table_id):
    table = load_table(table_id)
    commands = table_commands(table)
    implemented = [r.id for r in table.rows if not r.external]
    assert list(dict.fromkeys(c.row.id for c in commands)) == implemented
    seen = set()
    for command in commands:
        if command.row.id in seen:  # one molecule per row is enough to check the mapping
            continue
        seen.add(command.row.id)
        assert command.argv[0] == "run" and "--preset" in command.argv
        cfg = _resolve(command.argv)
        run = Run(Path("."), SimpleNamespace(config=cfg.to_dict()), Path("."))
        column = next(
            c
            for c in table.columns
            if c.match.get("molecule", command.molecule) == command.molecule
        )
        criteria = {**command.row.match, **column.match}
        assert match_run(run, criteria, table.defaults) is not None, (command.text, criteria)


def test_gpu_hours_are_the_paper_time_columns():
    table = load_table("1d")
    hours = {c.row.id: c.gpu_hours for c in table_commands(table)}
    assert hours == {r.id: float(r.value("paper-v1", "train_time")) for r in table.rows}
    per_molecule = [c for c in table_commands(load_table("4")) if c.row.id == "equiformer_l3"]
    assert len(per_molecule) == 8 and {c.gpu_hours for c in per_molecule} == {59.0}
    assert all("--variant equiformer-lmax3" in c.text for c in per_molecule)


def test_shell_text_names_scale_totals_and_external_rows():
    text = render_commands(load_table("4"))
    assert "# paper scale: 950 training frames per molecule" in text
    assert "# not implemented in dens-bench (models of other works): DimeNet" in text
    assert "about 1,248 GPU-hours in all" in text  # 8 molecules x (17 + 59 + 19 + 61)
    csv_text = render_commands(load_table("1a"), "csv")
    assert csv_text.count("\n") == 1 + len(load_table("1a").rows)
