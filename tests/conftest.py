"""Shared pytest fixtures. Tests run on 2 CPU cores as two xdist workers of one thread each."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # tests are tiny: one thread per worker (pytest -n 2)

TESTS_DIR = Path(__file__).parent
DATA_DIR = TESTS_DIR / "data"


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory) -> None:
    """A session-private ``$XDG_CACHE_HOME`` (the checksum cache of bench.data.checksums),
    inherited by the CLI subprocesses of the integration tests."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def data_dir() -> Path:
    """The tiny attributed data subset shipped with the tests."""
    return DATA_DIR


@pytest.fixture(scope="session")
def torchscript_zip() -> Callable[[Path], bytes]:
    """``torchscript_zip(marker)``: a TorchScript archive whose ``__setstate__`` writes
    ``marker`` (``torch.save``) when loaded: the payload of the S2EF-LMDB security tests."""
    return _torchscript_zip


def _torchscript_zip(marker: Path) -> bytes:
    """A TorchScript archive whose ``__setstate__`` writes ``marker`` with ``torch.save``."""

    class Evil(torch.nn.Module):
        def __init__(self, target: str):
            super().__init__()
            self.target = target

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

        @torch.jit.export
        def __getstate__(self) -> str:
            return self.target

        @torch.jit.export
        def __setstate__(self, target: str) -> None:
            self.target = target
            torch.save(torch.zeros(1), target)

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(Evil(str(marker))), buf)
    return buf.getvalue()


def pytest_collection_modifyitems(config, items):
    """Skip ``gpu``-marked tests when torch sees no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
