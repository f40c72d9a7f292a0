"""Fixtures of the matrix tests: a fake `bench run` that trains nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE_BENCH = Path(__file__).with_name("fake_bench.py")


@pytest.fixture
def fake_runner() -> list[str]:
    """Command line of the fake runner (see fake_bench.py for its fault injection)."""
    return [sys.executable, str(FAKE_BENCH)]
