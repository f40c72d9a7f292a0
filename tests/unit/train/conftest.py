"""A tiny finished DeNS run on the shipped rMD17 subset, shared by the evaluation tests."""

from __future__ import annotations

import pytest

from bench.config import resolve_config
from bench.train.run import run_training


def ci_config(
    tmp_path,
    backbone: str = "schnet",
    method: str = "dens",
    data_dir=None,
    overrides: tuple[str, ...] = (),
    **cli,
):
    """The ci config of ``backbone`` x ``method`` on shipped aspirin frames, results in tmp."""
    options = {
        "data.molecule": "aspirin",
        "data.data_root": str(data_dir),
        "results": str(tmp_path),
    } | cli
    return resolve_config(backbone, method, "rmd17", "ci", "paper-v1", options, list(overrides))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, request):
    from tests.conftest import DATA_DIR

    tmp = tmp_path_factory.mktemp("run")
    cfg = ci_config(tmp, data_dir=DATA_DIR, overrides=("data.max_structures=8", "train.epochs=2"))
    return run_training(cfg)
