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
import io
import shlex
from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError
from bench.reports.paper import PaperTable, Row
from bench.reports.runs import KEY_PATHS, preset_options

#: match keys that are `bench run` options
OPTION_KEYS = ("backbone", "method", "dataset", "molecule", "variant", "preset")


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
    """``run --backbone ... --preset P --profile P [--set k=v ...]`` for ``row`` (the
    network size is the row's ``run: {preset: ...}``, default ``paper``), written by
    bench.run_request.RunRequest.argv."""
    from bench.run_request import RunRequest, override

    keys = {**row.match, **row.run, **({"molecule": molecule} if molecule else {})}
    params = _method_params(str(keys["method"]))
    preset = str(keys.get("preset", "paper"))
    sized = _preset_values(str(keys["backbone"]), preset, str(keys["dataset"]))
    overrides = tuple(
        override(
            ".".join(KEY_PATHS[key])
            if key in KEY_PATHS
            else (f"method.params.{key}" if key in params else f"model.options.{key}"),
            value,
        )
        for key, value in keys.items()
        if key not in OPTION_KEYS
        and table.defaults.get(key, object()) != value
        and sized.get(key, object()) != value
    )
    return RunRequest(
        str(keys["backbone"]),
        str(keys["method"]),
        str(keys["dataset"]),
        preset=preset,
        molecule=keys.get("molecule"),
        profile=profile,
        variant=keys.get("variant"),
        overrides=overrides,
    ).argv()


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


def _preset_values(backbone: str, preset: str, dataset: str) -> dict[str, Any]:
    """The backbone options ``preset`` sets for ``dataset`` (their ``--set`` is redundant)."""
    from bench.config import CONFIG_DIR, load_yaml

    kind = (load_yaml(CONFIG_DIR / "datasets.yaml").get(dataset) or {}).get("kind", "md17")
    return preset_options(backbone, preset, kind)


def _method_params(method: str) -> set[str]:
    """The fields of the method's Config dataclass (empty for a method not implemented)."""
    import dataclasses

    from bench.methods import METHODS
    from bench.registry import resolve

    if method not in METHODS:
        return set()
    return {f.name for f in dataclasses.fields(resolve(METHODS, method, "method").Config)}
