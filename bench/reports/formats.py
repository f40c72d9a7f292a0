"""Render a Comparison as Markdown (GitHub table), LaTeX (booktabs tabular fragment) or CSV
(long form: one line per paper value and per reproduced cell)."""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING

from tabulate import tabulate

from bench.errors import ConfigError
from bench.reports.compare import Comparison, rel_diff
from bench.reports.layout import Line, header_text, layout
from bench.reports.paper import Column
from bench.reports.released import LABEL, Released

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("md", "latex", "csv")
LEGEND = (
    "ours: mean ± sample std over the matching runs (n = runs; one per seed); "
    "vs paper: (ours - paper) / paper. Runs are matched by their resolved config, never by "
    "directory name. Lines marked SMALLER SCALE (or with other data) are not full "
    "reproductions and get no vs paper line. Training time: the paper's in its header unit "
    "(GPU-hours); ours in the unit of the runs' device (CPU-h, GPU-h, or min / s under an "
    "hour), compared only for GPU runs."
)

RELEASED_LEGEND = (
    "evaluated from released checkpoint: the authors' released weights, imported with "
    "`bench import` and evaluated here with `bench eval` on the data its footnote names (not "
    "trained here, never pooled with trained runs); vs paper: against the table's released "
    "values where it has them, else the paper's."
)


def render(comparison: Comparison, fmt: str) -> str:
    """The comparison as text in ``fmt`` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return {"md": to_markdown, "latex": to_latex, "csv": to_csv}[fmt](comparison)


def _notes(comparison: Comparison) -> list[str]:
    table = comparison.table
    notes = [LEGEND, *table.notes]
    by_note: dict[str, list[str]] = {}
    for result in comparison.rows:
        if result.row.note:
            by_note.setdefault(result.row.note, []).append(result.row.label)
    if any(result.released for result in comparison.rows):
        notes.append(RELEASED_LEGEND)
    return notes + [f"{'; '.join(labels)}: {note}" for note, labels in by_note.items()]


def _title(comparison: Comparison) -> str:
    table = comparison.table
    profile = f" (profile {comparison.profile})" if comparison.profile else ""
    return f"Table {table.id}: {table.title}{profile} [bench/paper_tables/{table.path.name}]"


def md_cell(text: str) -> str:
    """``text`` safe inside a GitHub table cell (pipes escaped)."""
    return text.replace("|", "\\|")


#: a Source cell longer than this becomes a short label and a numbered footnote
SOURCE_MAX = 24
#: Markdown: molecules per sub-table of a per-molecule table (energy and forces)
MD_MOLECULES = 1
#: LaTeX: molecules per tabular (8 metric columns; the other columns join the last one)
TEX_MOLECULES = 4
#: Markdown: a table without molecule columns is split by column group above this width
MD_MAX_COLUMNS = 4


def footnoted(lines: list[Line]) -> tuple[list[Line], list[str]]:
    """``lines`` with every long Source text replaced by ``<kind> [n]``, and the footnotes
    ``[n] <text>`` (one number per distinct text)."""
    numbers: dict[str, int] = {}
    out = []
    for line in lines:
        source = line.source
        if len(source) > SOURCE_MAX:
            n = numbers.setdefault(source, len(numbers) + 1)
            source = f"{source.split(':')[0].split(' (')[0]} [{n}]"
        out.append(Line(line.kind, line.model, source, line.cells, line.first))
    return out, [f"[{n}] {text}" for text, n in numbers.items()]


def column_chunks(
    columns: tuple[Column, ...], per: int = MD_MOLECULES, merge_rest: bool = False
) -> list[list[int]]:
    """Column indices per sub-table: ``per`` molecules at a time, then the other columns (their
    own chunk, or the last one's with ``merge_rest``); without molecule columns, runs of equal
    ``group`` when wider than ``MD_MAX_COLUMNS``."""
    if any("molecule" in c.match for c in columns):
        molecules = list(
            dict.fromkeys(c.match["molecule"] for c in columns if "molecule" in c.match)
        )
        chunks = [
            [i for i, c in enumerate(columns) if c.match.get("molecule") in part]
            for part in (molecules[k : k + per] for k in range(0, len(molecules), per))
        ]
        rest = [i for i, c in enumerate(columns) if "molecule" not in c.match]
        if merge_rest:
            return [*chunks[:-1], chunks[-1] + rest]
        return chunks + ([rest] if rest else [])
    if merge_rest or len(columns) <= MD_MAX_COLUMNS:
        return [list(range(len(columns)))]
    chunks: list[list[int]] = []
    for i, col in enumerate(columns):
        if chunks and columns[chunks[-1][-1]].group == col.group:
            chunks[-1].append(i)
        else:
            chunks.append([i])
    return chunks


def to_markdown(comparison: Comparison) -> str:
    """GitHub Markdown: a title line, one table per column chunk (:func:`column_chunks`), then
    the footnotes and notes as a list."""
    columns = comparison.table.columns
    lines, footnotes = footnoted(layout(comparison))
    parts = [f"**{_title(comparison)}**"]
    chunks = column_chunks(columns)
    for chunk in chunks:
        groups = list(dict.fromkeys(columns[i].group for i in chunk))
        if len(chunks) > 1:
            parts.append("*" + ", ".join(groups) + "*")
        one = len(chunks) > 1 and len(groups) == 1  # the chunk title names the group
        headers = [
            "Model",
            "Source",
            *(
                _with_unit(columns[i].label, columns[i]) if one else header_text(columns[i])
                for i in chunk
            ),
        ]
        body = [
            [md_cell(t) for t in (line.model, line.source, *(line.cells[i] for i in chunk))]
            for line in lines
        ]
        parts.append(
            tabulate(
                body,
                headers=[md_cell(h) for h in headers],
                tablefmt="github",
                disable_numparse=True,
            )
        )
    notes = "\n".join(f"- {n}" for n in [*footnotes, *_notes(comparison)])
    return "\n\n".join(parts) + f"\n\n{notes}\n"


TEX_REPLACE = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "λ": r"$\lambda$",
    "σ": r"$\sigma$",
    "Å": r"\AA{}",
    "ü": r"\"u",
    "ö": r"\"o",
    "↓": r"$\downarrow$",
    "↑": r"$\uparrow$",
    "−": "-",
    "×": r"$\times$",
    "-": "-{}",
}


def tex(text: str) -> str:
    """``text`` escaped for LaTeX (special characters and the few non-ASCII ones we print;
    ``-`` as ``-{}`` so that ``--`` stays two hyphens)."""
    return "".join(TEX_REPLACE.get(ch, ch) for ch in text)


def to_latex(comparison: Comparison) -> str:
    """A ``table*`` float: caption, one booktabs tabular per column chunk (``TEX_MOLECULES``
    molecules at a time) scaled to the text width with ``\\resizebox`` (needs
    ``\\usepackage{booktabs,graphicx}``), then the footnotes and notes."""
    table = comparison.table
    lines, footnotes = footnoted(layout(comparison))
    profile = f" (profile {comparison.profile})" if comparison.profile else ""
    out = [
        f"% {tex(_title(comparison))}",
        "% generated by `bench report`; needs \\usepackage{booktabs,graphicx}",
        "\\begin{table*}[t]",
        "\\centering",
        f"\\caption{{Paper Table {tex(table.id)}: {tex(table.title)}{tex(profile)}}}",
        f"\\label{{tab:paper-{table.id}}}",
    ]
    for chunk in column_chunks(table.columns, TEX_MOLECULES, merge_rest=True):
        out += _latex_tabular(comparison, lines, chunk)
    out += ["{\\raggedright\\footnotesize"]
    out += [tex(n) + "\\par" for n in [*footnotes, *_notes(comparison)]]
    return "\n".join([*out, "}", "\\end{table*}"]) + "\n"


def _latex_tabular(comparison: Comparison, lines: list[Line], chunk: list[int]) -> list[str]:
    columns = [comparison.table.columns[i] for i in chunk]
    out = [
        "\\resizebox{\\textwidth}{!}{%",
        "\\begin{tabular}{ll" + "r" * len(columns) + "}",
        "\\toprule",
        *_latex_groups(columns),
    ]
    labels = [tex(_with_unit(c.label, c)) for c in columns]
    out += [" & ".join(["Model", "Source", *labels]) + " \\\\", "\\midrule"]
    for i, line in enumerate(lines):
        if line.first and i:
            out.append("\\addlinespace")
        cells = (line.model, line.source, *(line.cells[k] for k in chunk))
        out.append(" & ".join(tex(t) for t in cells) + " \\\\")
    return [*out, "\\bottomrule", "\\end{tabular}}", "\\par\\medskip"]


def _with_unit(text: str, col: Column) -> str:
    return text if col.unit in text else f"{text} ({col.unit})"


def _latex_groups(columns: list[Column]) -> list[str]:
    """The group header row (``\\multicolumn`` over runs of equal group) and its rules."""
    spans: list[list] = []
    for col in columns:
        if spans and spans[-1][0] == col.group:
            spans[-1][1] += 1
        else:
            spans.append([col.group, 1])
    cells, rules, start = ["", ""], [], 3
    for group, width in spans:
        cells.append(f"\\multicolumn{{{width}}}{{c}}{{{tex(group)}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + width - 1}}}")
        start += width
    return [" & ".join(cells) + " \\\\", " ".join(rules)]


CSV_FIELDS = (
    "table",
    "row",
    "label",
    "column",
    "quantity",
    "split",
    "metric",
    "unit",
    "kind",
    "profile",
    "reference",
    "scale",
    "paper_scale",
    "n",
    "value",
    "std",
    "rel_diff_pct",
    "runs",
)


def to_csv(comparison: Comparison) -> str:
    """Long form: a ``paper`` line per printed value, an ``ours`` line per reproduced cell
    (``n`` 0 and empty value for a row without runs), a ``released`` line per cell of an
    evaluated released checkpoint (bench.reports.released); numbers unrounded."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    table = comparison.table
    for result in comparison.rows:
        row = result.row
        for col in table.columns:
            base = {
                "table": table.id,
                "row": row.id,
                "label": row.label,
                "column": col.key,
                "quantity": col.quantity,
                "split": col.split or "",
                "metric": col.metric or "",
                "unit": col.unit,
            }
            for profile in result.paper_profiles:
                text = row.value(profile, col.key)
                if text is not None:
                    writer.writerow({**base, "kind": "paper", "profile": profile, "value": text})
            for group in result.groups:
                stat = group.cells.get(col.key)
                ref = None if group.reference is None else row.value(group.reference, col.key)
                diff = rel_diff(stat, ref)
                writer.writerow(
                    {
                        **base,
                        "kind": "ours",
                        "profile": group.profile or "",
                        "reference": group.reference or "",
                        "scale": group.scale.label,
                        "paper_scale": group.scale.paper,
                        "n": 0 if stat is None else stat.n,
                        "value": "" if stat is None else repr(stat.mean),
                        "std": "" if stat is None or stat.std is None else repr(stat.std),
                        "rel_diff_pct": "" if diff is None else repr(diff),
                        "runs": "" if stat is None else ";".join(stat.runs),
                    }
                )
            if not result.groups:
                writer.writerow({**base, "kind": "ours", "n": 0})
            for released in result.released:
                writer.writerow(_released_csv(base, released, row.value, col.key))
    return buf.getvalue()


def _released_csv(base: dict, released: Released, value, key: str) -> dict:
    """The CSV line of one released checkpoint's cell (``scale`` names the checkpoint)."""
    stat = released.cells.get(key)
    ref = None if released.reference is None else value(released.reference, key)
    diff = rel_diff(stat, ref)
    return {
        **base,
        "kind": "released",
        "reference": released.reference or "",
        "scale": f"{LABEL}: {released.checkpoint}",
        "paper_scale": False,
        "n": 0 if stat is None else stat.n,
        "value": "" if stat is None else repr(stat.mean),
        "rel_diff_pct": "" if diff is None else repr(diff),
        "runs": released.run,
    }


def frame_text(frame: pd.DataFrame, fmt: str, title: str) -> str:
    """A pandas table as ``fmt`` text: floats with 2 decimals (CSV: unrounded), NaN as ``-``."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "csv":
        return frame.to_csv(index=False, lineterminator="\n")
    cells = [[_frame_cell(v) for v in row] for row in frame.itertuples(index=False)]
    headers = [str(c) for c in frame.columns]
    if fmt == "md":
        body = tabulate(
            [[md_cell(c) for c in row] for row in cells],
            headers=[md_cell(h) for h in headers],
            tablefmt="github",
            disable_numparse=True,
        )
        return f"**{title}**\n\n{body}\n"
    out = [
        f"% {tex(title)}",
        "\\begin{tabular}{" + "l" * len(headers) + "}",
        "\\toprule",
        " & ".join(tex(h) for h in headers) + " \\\\",
        "\\midrule",
    ]
    out += [" & ".join(tex(c) for c in row) + " \\\\" for row in cells]
    return "\n".join([*out, "\\bottomrule", "\\end{tabular}"]) + "\n"


def _frame_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        text = f"{value:.2f}"
        return "0.00" if text == "-0.00" else text
    return str(value)
