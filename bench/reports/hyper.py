"""The paper's hyper-parameter tables (7, 8, 9) as data, and their check against a profile.

``bench/paper_tables/hyper/table<ID>.yaml`` lists the printed rows (label, one printed text
per column) and the config key each row sets (``train.lr``, ``method.params.p_dens``, or
``backbone.NAME``: keyword NAME of the backbone preset the column selects). A column names
the configs it describes (backbone, method, dataset, optional molecule, variant and backbone
preset). :func:`check_hyper` resolves each config at preset ``paper`` and compares key by key;
a difference must be listed in the profile's ``deviations`` with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from bench.errors import DataError
from bench.reports.paper import PAPER_TABLES_DIR

HYPER_DIR = PAPER_TABLES_DIR / "hyper"
_PAIR = re.compile(r"^\((\d+),(\d+)\)$")
_POWER = re.compile(r"^([\d.]+)×10\^(-?\d+)$")


@dataclass(frozen=True)
class Check:
    """One compared value: ``where`` is ``table<ID>.<row label>.<column>[<config index>]``."""

    where: str
    printed: str
    expected: float | None
    ours: Any
    key: str | None
    reason: str | None = None  # why the row has no config key

    @property
    def ok(self) -> bool:
        return self.key is None or _same(self.expected, self.ours)


def hyper_ids() -> list[str]:
    """Ids of the hyper-parameter tables: ``["7", "8", "9"]``."""
    return sorted(p.stem.removeprefix("table") for p in HYPER_DIR.glob("table*.yaml"))


def load_hyper(table_id: str) -> dict[str, Any]:
    """The raw data of hyper-parameter table ``table_id`` (see the module docstring)."""
    path = HYPER_DIR / f"table{table_id}.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(path, None, f"cannot read ({exc})") from exc
    for field in ("id", "title", "columns", "rows"):
        if field not in (raw or {}):
            raise DataError(path, field, "missing key")
    return raw


def printed_number(text: str) -> float:
    """A printed cell as a number: ``2×10^-4`` -> 2e-4, ``(6,128)`` -> 128 (channels)."""
    pair, power = _PAIR.match(text), _POWER.match(text)
    if pair:
        return float(pair.group(2))
    if power:
        return float(power.group(1)) * 10.0 ** int(power.group(2))
    return float(text)


def check_hyper(table_id: str, profile: str = "paper-v1") -> list[Check]:
    """Every (row, column, config) value of the table beside the resolved ``profile`` value."""
    raw = load_hyper(table_id)
    out = []
    for row in raw["rows"]:
        for col in raw["columns"]:
            text = row["values"].get(col["key"])
            if text is None:
                continue
            expect = (row.get("expect") or {}).get(col["key"])
            for i, spec in enumerate(col["configs"]):
                where = f"table{table_id}.{row['label']}.{col['key']}[{i}]"
                if row["key"] is None:
                    out.append(Check(where, text, None, None, None, row.get("reason")))
                    continue
                want = expect[i] if expect else printed_number(text)
                out.append(
                    Check(where, text, want, resolved_value(spec, row["key"], profile), row["key"])
                )
    return out


def resolved_value(spec: dict[str, Any], key: str, profile: str) -> Any:
    """The value of ``key`` for the run ``spec`` at preset ``paper`` under ``profile``."""
    config, options = _resolved(tuple(sorted(spec.items())), profile)
    head, _, rest = key.partition(".")
    if head == "backbone":
        return options.get(rest)
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@lru_cache(maxsize=64)
def _resolved(items: tuple[tuple[str, Any], ...], profile: str) -> tuple[dict, dict]:
    """(resolved config as a dict, the backbone options: the config's, every key of them, or
    the ``backbone_preset`` entry's where the spec names one)."""
    from bench.backbones.registry import preset_config
    from bench.run_request import RunRequest

    spec = dict(items)
    cfg = RunRequest(
        spec["backbone"],
        spec["method"],
        spec["dataset"],
        preset="paper",
        profile=profile,
        molecule=spec.get("molecule") or None,
        variant=spec.get("variant") or None,
    ).resolve()
    kind = spec.get("backbone_preset")  # a column whose network is another kind's preset
    preset = preset_config(spec["backbone"], "paper", kind) if kind else {}
    config = cfg.to_dict()
    return config, {**config["model"]["options"], **preset}


def deviations(profile: str = "paper-v1") -> dict[str, str]:
    """The ``deviations`` of every section of ``profiles/<profile>.yaml``: location -> reason."""
    from bench.config import CONFIG_DIR, load_yaml

    table = load_yaml(CONFIG_DIR / "profiles" / f"{profile}.yaml")
    return {
        k: v for section in table.values() for k, v in (section.get("deviations") or {}).items()
    }


def _same(want: float | None, got: Any) -> bool:
    if want is None or got is None or isinstance(got, bool):
        return False
    return abs(float(got) - want) <= 1e-9 * max(abs(want), 1.0)


def hyper_frame(table_id: str, profile: str = "paper-v1"):
    """One line per printed row: hyper-parameter, config key, one cell per printed column
    (the paper's text, plus ``(ours X)`` where ``profile`` differs) and a status (``ok``, the
    listed reason of a difference, or why the row is no config key)."""
    import pandas as pd

    raw, listed = load_hyper(table_id), deviations(profile)
    checks = {c.where: c for c in check_hyper(table_id, profile)}
    lines = []
    for row in raw["rows"]:
        line = {"hyper-parameter": row["label"], "config key": row["key"] or "-"}
        status = "ok" if row["key"] else f"not a config key: {row.get('reason')}"
        for col in raw["columns"]:
            text = row["values"].get(col["key"])
            mine = [
                c
                for w, c in checks.items()
                if w.startswith(f"table{table_id}.{row['label']}.{col['key']}[")
            ]
            bad = [c for c in mine if not c.ok]
            line[col["header"]] = (
                "-"
                if text is None
                else text + (f" (ours {' / '.join(str(c.ours) for c in mine)})" if bad else "")
            )
            if bad:
                status = "differs: " + "; ".join(listed.get(c.where, "NOT LISTED") for c in bad)
        lines.append({**line, "status": status})
    return pd.DataFrame(lines)


def render_hyper(table_id: str, fmt: str = "md", profile: str = "paper-v1") -> str:
    """Hyper-parameter table ``table_id`` beside ``profile``: Markdown, LaTeX or CSV."""
    from bench.reports.formats import frame_text, tex

    raw = load_hyper(table_id)
    frame = hyper_frame(table_id, profile)
    title = f"Table {raw['id']}: {raw['title']} [bench/paper_tables/hyper/table{table_id}.yaml]"
    footnotes: dict[str, int] = {}
    if fmt != "csv":  # long status text as numbered footnotes
        frame["status"] = [
            text
            if len(text) <= 24
            else f"{text.split(':')[0]} [{footnotes.setdefault(text, len(footnotes) + 1)}]"
            for text in frame["status"]
        ]
    text = frame_text(frame, fmt, title)
    notes = [*(f"[{n}] {t}" for t, n in footnotes.items()), *(raw.get("notes") or ())]
    if fmt == "md":
        return text + "\n" + "".join(f"- {n}\n" for n in notes)
    if fmt == "latex":
        tabular = text.split("\n", 1)[1]
        return (
            "\n".join(
                [
                    f"% {tex(title)}",
                    "% generated by `bench report`; needs \\usepackage{booktabs,graphicx}",
                    "\\begin{table*}[t]",
                    "\\centering",
                    f"\\caption{{Paper Table {tex(str(raw['id']))}: {tex(raw['title'])}}}",
                    "\\resizebox{\\textwidth}{!}{%",
                    tabular.rstrip("\n") + "}",
                    "\\par\\medskip",
                    "{\\raggedright\\footnotesize",
                    *(tex(n) + "\\par" for n in notes),
                    "}",
                    "\\end{table*}",
                ]
            )
            + "\n"
        )
    return text
