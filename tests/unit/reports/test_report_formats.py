"""Golden files for every output format on the fixture results, and structural checks.

Golden files live in tests/data/report_golden/. Regenerate them only deliberately, after
reading the diff: ``BENCH_REGEN_GOLDEN=1 python -m pytest tests/unit/reports -k golden``.
"""

from __future__ import annotations

import csv
import io
import os
import re

import pytest

from bench.reports import report_table
from bench.reports.formats import tex
from bench.reports.summary import render_summary

REGEN = os.environ.get("BENCH_REGEN_GOLDEN") == "1"


def check_golden(golden_dir, name: str, text: str) -> None:
    path = golden_dir / name
    if REGEN:
        path.write_text(text)
    assert path.is_file(), f"missing golden file {path}; see this module's docstring"
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.mark.parametrize(
    ("table", "fmt"),
    [("4", "md"), ("4", "latex"), ("4", "csv"), ("2", "md"), ("3", "csv"), ("6", "md")],
)
def test_table_golden(results_dir, golden_dir, table, fmt):
    text = report_table(table, results_dir, fmt)
    check_golden(golden_dir, f"table{table}.{fmt}", text)


def test_summary_golden(runs, golden_dir):
    check_golden(golden_dir, "summary.md", render_summary(runs, "md"))


def test_markdown_is_a_github_table(results_dir):
    """Table 4 as one GitHub table per molecule (energy, forces) and one for time and
    parameters: Model, Source and 2 columns each."""
    text = report_table("4", results_dir, "md")
    rows = [ln for ln in text.splitlines() if ln.startswith("|")]
    pipes = {len(re.findall(r"(?<!\\)\|", ln)) for ln in rows}
    assert pipes == {2 + 2 + 1}
    separators = [ln for ln in rows if set(ln) <= {"|", "-", ":"}]
    assert len(separators) == 8 + 1
    assert "*Aspirin*" in text and "*Training time, Number of*" in text


def test_csv_long_form_round_trips(results_dir):
    lines = list(csv.DictReader(io.StringIO(report_table("4", results_dir, "csv"))))
    ours = [
        ln
        for ln in lines
        if ln["kind"] == "ours"
        and ln["row"] == "equiformer_l2"
        and ln["column"] == "aspirin_energy"
    ]
    assert [(ln["scale"], ln["n"], ln["paper_scale"]) for ln in ours] == [
        ("paper scale", "3", "True"),
        ("SMALLER SCALE: preset ci, 3 epochs, n_train 16", "1", "False"),
    ]
    assert float(ours[0]["value"]) == pytest.approx(5.5)
    assert ours[0]["runs"].split(";") == [f"md17/aspirin/equiformer-none-seed{i}" for i in range(3)]
    empty = [ln for ln in lines if ln["row"] == "dimenet" and ln["kind"] == "ours"]
    assert empty and all(ln["n"] == "0" and ln["value"] == "" for ln in empty)


def test_latex_fragment_structure(results_dir):
    """A table* float: two scaled tabulars (4 molecules each; time and parameters join the
    second), rules in order, every special character escaped."""
    text = report_table("4", results_dir, "latex")
    body = [ln for ln in text.splitlines() if not ln.startswith("%")]
    assert body[0] == "\\begin{table*}[t]" and body[-1] == "\\end{table*}"
    widths = [len(r) for r in re.findall(r"\\begin\{tabular\}\{ll(r+)\}", text)]
    assert widths == [8, 10] and text.count("\\resizebox{\\textwidth}{!}{%") == 2
    order = [body.index(rule) for rule in ("\\toprule", "\\midrule", "\\bottomrule")]
    assert order == sorted(order)
    rows = [ln for ln in body if ln.endswith("\\\\") and "multicolumn" not in ln]
    assert {len(re.findall(r"(?<!\\)&", ln)) for ln in rows} == {9, 11}
    spans = re.findall(r"\\multicolumn\{(\d+)\}", text)
    assert sum(int(s) for s in spans) == 18
    for line in body:  # "{%" ends the resizebox line on purpose (no space after the brace)
        assert not re.search(r"(?<!\\)[_%#]", line.removesuffix("{%")), line
    assert tex("a_b & 5% ± λ") == r"a\_b \& 5\% $\pm$ $\lambda$"
    assert tex("--commands") == "-{}-{}commands"  # not an en dash
