"""Every backbone x method trains on the shipped rMD17 subset and its training loss goes down.

Four structures in one batch, repeated for 20 steps at lr 5e-3: the loss must fall (mean of
the last third of the logged steps below the mean of the first third). SchNet runs in the
default suite; the e3nn backbones (about 1 s per step on 2 cores) are marked slow.
"""

from __future__ import annotations

import json

import pytest

from bench.backbones.registry import BACKBONES
from bench.methods import METHODS
from bench.records import read_record
from bench.train.run import run_training
from tests.conftest import DATA_DIR
from tests.unit.train.conftest import ci_config

OVERRIDES = ("data.n_train=4", "data.max_structures=4", "train.epochs=20", "train.lr=5e-3")


def _grid():
    for backbone in BACKBONES:
        marks = () if backbone == "schnet" else (pytest.mark.slow,)
        for method in METHODS:
            yield pytest.param(backbone, method, marks=marks, id=f"{backbone}-{method}")


@pytest.mark.parametrize("backbone, method", list(_grid()))
def test_ci_run_completes_and_training_loss_goes_down(tmp_path, backbone, method):
    cfg = ci_config(tmp_path, backbone, method, DATA_DIR, OVERRIDES)
    run_dir = run_training(cfg)
    record = read_record(run_dir)
    assert record.status == "done", record.failure
    assert record.steps == 20 and record.params > 0
    assert set(record.metrics) == {"val", "test"}
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    losses = [d["loss"] for d in lines if d["split"] == "train"]
    third = len(losses) // 3
    assert sum(losses[-third:]) < sum(losses[:third]), losses
