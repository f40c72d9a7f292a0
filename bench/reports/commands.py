"""Every row of a paper table as the `bench run` command that reproduces it at the paper's scale.

A row's command is read from its ``match`` keys, plus its ``run`` keys (settings the command
needs that do not define the row, such as a profile variant), and the column's ``molecule``
(one command per molecule). ``backbone``, ``method``, ``dataset``, ``molecule`` and
``variant`` become options; the other names of bench.reports.runs.KEY_PATHS become
``--set <path>=<value>``; any other name is a method hyper-parameter
(``--set method.params.<name>=...``, when the method takes it) or a backbone option
(``--set model.options.<name>=...``). A key equal to the table's ``defaults`` is left out (a
run that does not set it has that value). Rows of models dens-bench does not implement
(``external``) get a comment instead.

The GPU-hours estimate of a command is the row's ``gpu_hours`` or else its own printed training
time (``train_time`` column), both the paper's numbers on the paper's GPUs (each table's notes
say which); a row with neither has no estimate.
"""

from __future__ import annotations

import csv
import inspect
import io
import shlex
from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError
from bench.reports.paper import PaperTable, Row
from bench.reports.runs import KEY_PATHS

#: match keys that are `bench run` options
OPTION_KEYS = ("backbone", "method", "dataset", "molecule", "variant")


@dataclass(frozen=True)
class Command:
    """One `bench run` of a row (and molecule); ``argv`` without the leading ``bench``."""

    row: Row
    molecule: str | None
    argv: tuple[str, ...]
    gpu_hours: float | None

    @property
    def text(self) -> str:
        return shlex.join(["bench", *self.argv])


def table_commands(table: PaperTable, profile: str = "paper-v1") -> list[Command]:
    """The commands of every implemented row of ``table``, in printed order."""
    molecules = list(
        dict.fromkeys(c.match["molecule"] for c in table.columns if "molecule" in c.match)
    ) or [None]
    out = []
    for row in table.rows:
        if row.external:
            continue
        hours = row_gpu_hours(table, row, profile)
        for molecule in molecules:
            out.append(
                Command(row, molecule, tuple(run_argv(table, row, molecule, profile)), hours)
            )
    return out


def run_argv(table: PaperTable, row: Row, molecule: str | None, profile: str) -> list[str]:
    """``run --backbone ... --preset paper --profile P [--set k=v ...]`` for ``row``."""
    keys = {**row.match, **row.run, **({"molecule": molecule} if molecule else {})}
    argv = [
        "run",
        "--backbone",
        str(keys["backbone"]),
        "--method",
        str(keys["method"]),
        "--dataset",
        str(keys["dataset"]),
    ]
    for key in ("molecule", "variant"):
        if keys.get(key) is not None:
            argv += [f"--{key}", str(keys[key])]
    argv += ["--preset", "paper", "--profile", profile]
    params = _method_params(str(keys["method"]))
    for key, value in keys.items():
        if key in OPTION_KEYS or table.defaults.get(key, object()) == value:
            continue
        path = (
            ".".join(KEY_PATHS[key])
            if key in KEY_PATHS
            else (f"method.params.{key}" if key in params else f"model.options.{key}")
        )
        argv += ["--set", f"{path}={_yaml_text(value)}"]
    return argv


def row_gpu_hours(table: PaperTable, row: Row, profile: str) -> float | None:
    """The paper's GPU-hours for one run of ``row`` (module docstring), or None."""
    if row.gpu_hours is not None:
        return float(row.gpu_hours)
    times = [c.key for c in table.columns if c.quantity == "train_time"]
    text = row.value(profile, times[0]) if times else None
    return None if text is None else float(text)


def render_commands(table: PaperTable, fmt: str = "md", profile: str = "paper-v1") -> str:
    """The commands as a shell script with comments (``md``) or one CSV line each (``csv``)."""
    commands = table_commands(table, profile)
    if fmt == "csv":
        return _commands_csv(table, commands)
    if fmt != "md":
        raise ConfigError(f"--commands prints md (a shell script) or csv, not {fmt!r}")
    known = [c.gpu_hours for c in commands if c.gpu_hours is not None]
    lines = [
        f"# Table {table.id}: {table.title}",
        f"# Every row as a `bench run` at the paper's scale (profile {profile}, preset paper).",
        f"# paper scale: {table.paper_scale or 'see the table notes'}",
        f"# {len(commands)} runs; about {sum(known):,.0f} GPU-hours in all by the paper's own "
        f"time columns ({len(known)} of {len(commands)} runs have an estimate).",
    ]
    previous = None
    for command in commands:
        if command.row is not previous:
            hours = (
                "no estimate"
                if command.gpu_hours is None
                else f"about {command.gpu_hours:,.0f} GPU-hours per run"
            )
            lines += ["", f"# {command.row.label}: {hours}"]
            previous = command.row
        lines.append(command.text)
    skipped = [r.label for r in table.rows if r.external]
    if skipped:
        lines += [
            "",
            "# not implemented in dens-bench (models of other works): " + "; ".join(skipped),
        ]
    return "\n".join(lines) + "\n"


def _commands_csv(table: PaperTable, commands: list[Command]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["table", "row", "label", "molecule", "gpu_hours", "command"])
    for c in commands:
        writer.writerow(
            [
                table.id,
                c.row.id,
                c.row.label,
                c.molecule or "",
                "" if c.gpu_hours is None else repr(c.gpu_hours),
                c.text,
            ]
        )
    return buf.getvalue()


def _method_params(method: str) -> set[str]:
    from bench.registry import resolve
    from methods import METHODS

    if method not in METHODS:
        return set()
    return set(inspect.signature(resolve(METHODS, method, "method").__init__).parameters)


def _yaml_text(value: Any) -> str:
    """``value`` as a `--set` right-hand side (read back with yaml.safe_load)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)
