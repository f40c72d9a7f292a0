"""A misspelt backbone option or method hyper-parameter fails when the config is resolved:
``bench run`` and ``bench matrix --dry-run`` exit 2 with one line naming the key and the
closest known one, before any data is read or any file written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPOS = [
    (
        "method.params.corupt_ratio=0.5",
        "method.params: unknown key 'corupt_ratio'",
        "corrupt_ratio",
    ),
    ("model.options.lmx=3", "model.options: unknown key 'lmx'", "lmax"),
]


def bench(*args: str) -> subprocess.CompletedProcess:
    code = "from bench.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _assert_one_line_rejection(proc, message: str, suggestion: str | None, tmp_path: Path):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0]
    if suggestion is not None:
        assert f"Did you mean {suggestion!r}" in lines[0]
    assert not (tmp_path / "results").exists() and proc.stdout == ""


@pytest.mark.parametrize("assignment, message, suggestion", TYPOS)
def test_bench_run_rejects_a_typo_before_reading_data(tmp_path, assignment, message, suggestion):
    # the data root does not exist: reaching the data loader would be a different error
    proc = bench(
        "run", "--backbone", "equiformer", "--method", "dens", "--dataset", "rmd17",
        "--molecule", "ethanol", "--data-root", str(tmp_path / "no-data"),
        "--results", str(tmp_path / "results"), "--set", assignment,
    )  # fmt: skip
    _assert_one_line_rejection(proc, message, suggestion, tmp_path)


@pytest.mark.parametrize("assignment, message, suggestion", TYPOS)
def test_matrix_dry_run_rejects_a_typo(tmp_path, assignment, message, suggestion):
    proc = bench(
        "matrix", "--backbones", "equiformer", "--methods", "dens", "--datasets", "rmd17",
        "--molecules", "ethanol", "--data-root", str(tmp_path / "no-data"),
        "--results", str(tmp_path / "results"), "--set", assignment, "--dry-run",
    )  # fmt: skip
    _assert_one_line_rejection(proc, message, suggestion, tmp_path)
