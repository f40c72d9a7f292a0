"""Where datasets live: ``--data-root`` holds one folder per dataset (md17/, rmd17/, ...)."""

from __future__ import annotations

import os
from pathlib import Path

from bench.data.registry import DatasetSpec
from bench.errors import DataError

#: environment variable naming the default data root
DATA_ROOT_ENV = "DENS_BENCH_DATA"


def default_data_root() -> Path:
    """``$DENS_BENCH_DATA`` when set, else ``./data``."""
    return Path(os.environ.get(DATA_ROOT_ENV) or "data")


def dataset_dir(spec: DatasetSpec, folder: str) -> Path:
    """``<data_root>/<folder>``; DataError when it does not exist."""
    root = Path(spec.data_root) if spec.data_root is not None else default_data_root()
    path = root / folder
    if not path.is_dir():
        raise DataError(path, None, f"dataset folder not found (data root {str(root)!r})")
    return path
