"""Exact resume after an interruption, and divergence recorded as a failure."""

from __future__ import annotations

import json

import pytest
import torch

import bench.train.loop as loop
from bench.records import read_record
from bench.train.run import run_training
from tests.conftest import DATA_DIR
from tests.unit.train.conftest import SHORT_RUN, ci_config

# DeNS corruption, EMA, clipping and a log window straddling the step-6 checkpoint all carry
# state a resume must restore.
OVERRIDES = (*SHORT_RUN, "train.ema_decay=0.9", "train.grad_clip=10.0")


def _train_losses(run_dir) -> list[dict]:
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    drop = ("structures_per_s", "train_time_s")
    return [{k: v for k, v in d.items() if k not in drop} for d in lines if d["split"] == "train"]


def test_resume_after_interruption_equals_uninterrupted(tmp_path, monkeypatch):
    full = run_training(ci_config(tmp_path / "a", data_dir=DATA_DIR, overrides=OVERRIDES))

    real_step = loop.train_step

    def interrupted(*args, **kwargs):
        if args[4].step == 8:  # the 1-based step number argument
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    cfg = ci_config(tmp_path / "b", data_dir=DATA_DIR, overrides=OVERRIDES)
    monkeypatch.setattr(loop, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg)
    part = tmp_path / "b" / cfg.run_id
    record = read_record(part)
    assert record.status == "interrupted"  # at step 8: the newest checkpoint is step 6
    assert record.failure == "interrupted by SIGINT (--resume continues from step 6)"
    assert not (part / "checkpoints" / "model.pt").exists()
    steps_run = []

    def counted(*args, **kwargs):
        steps_run.append(args[4].step)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", counted)
    resumed = run_training(
        ci_config(tmp_path / "b", data_dir=DATA_DIR, overrides=OVERRIDES), resume=True
    )
    assert steps_run == list(range(7, 13))  # continued after the step-6 checkpoint
    assert read_record(resumed).status == "done"
    final_a = torch.load(full / "checkpoints" / "model.pt", weights_only=True)
    final_b = torch.load(resumed / "checkpoints" / "model.pt", weights_only=True)
    assert final_a.keys() == final_b.keys()
    for key in final_a:
        assert torch.equal(final_a[key], final_b[key]), key
    assert _train_losses(full) == _train_losses(resumed)
    assert read_record(full).metrics == read_record(resumed).metrics


def test_divergence_is_recorded_as_a_failed_run(tmp_path):
    cfg = ci_config(
        tmp_path,
        data_dir=DATA_DIR,
        method="none",
        overrides=("data.max_structures=8", "train.lr=1e30", "train.epochs=5"),
    )
    run_dir = run_training(cfg)
    record = read_record(run_dir)
    assert record.status == "failed"
    assert record.failure.startswith("non-finite loss at step ")
    assert record.metrics == {}
