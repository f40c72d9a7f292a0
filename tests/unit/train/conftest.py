"""A tiny finished DeNS run on the shipped rMD17 subset, shared by the evaluation tests."""

from __future__ import annotations

import pytest

from bench.config import resolve_config
from bench.train.run import run_training

#: a short run that checkpoints mid-epoch: 8 train structures, batch 2 (4 steps per epoch),
#: 12 steps, a checkpoint every 3 and a log window of 4 that straddles it; DeNS on half of
#: the structures
SHORT_RUN = (
    "data.max_structures=8",
    "train.batch_size=2",
    "train.epochs=3",
    "train.checkpoint_every=3",
    "train.log_every=4",
    "method.params.p_dens=0.5",
)


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
