"""The LaTeX of every table compiles with a real pdflatex (skipped where it is not installed)
and fits the page (no overfull boxes)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bench.reports import report_table
from bench.reports.hyper import hyper_ids
from bench.reports.paper import table_ids

PREAMBLE = (
    "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n"
    "\\usepackage{booktabs,graphicx}\n\\begin{document}\n"
)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_every_table_compiles_and_fits(results_dir, tmp_path):
    bodies = [report_table(t, results_dir, "latex") for t in [*table_ids(), *hyper_ids()]]
    (tmp_path / "tables.tex").write_text(
        PREAMBLE + "\n\\clearpage\n".join(bodies) + "\n\\end{document}\n"
    )
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "tables.log").read_text(errors="replace")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "tables.pdf").stat().st_size > 0
    assert "Overfull \\hbox" not in log
    assert log.count("Float too large") == 0
