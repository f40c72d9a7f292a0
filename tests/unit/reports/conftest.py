"""Fixtures of the report tests: the hand-made results directory under tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.reports import load_runs

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results_fixture"
GOLDEN = Path(__file__).resolve().parents[2] / "data" / "report_golden"


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """tests/data/results_fixture: 15 run directories (14 done, 1 failed), see its README."""
    return RESULTS


@pytest.fixture(scope="session")
def runs(results_dir):
    return load_runs(results_dir)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN
