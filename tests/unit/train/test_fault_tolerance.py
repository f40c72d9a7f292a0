"""Fault tolerance of a run: unwritable or full results directories fail before training,
divergence stops at the step that produced it, and resume survives a corrupt newest
checkpoint, a torn log line and leftover temp files. (Killing a real process: the
integration test tests/integration/test_kill_resume.py.)"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch_geometric.data import Batch, Data

import bench.train.loop as loop
import bench.train.preflight as preflight
import bench.train.run as run_module
from bench.config import TrainConfig
from bench.errors import ConfigError
from bench.methods import build_method
from bench.records import read_record
from bench.train.checkpoint import list_checkpoints, save_checkpoint
from bench.train.run import run_training
from bench.train.step import NonFiniteLossError, StepContext, train_step
from tests.conftest import DATA_DIR
from tests.unit.train.conftest import ci_config

# 8 train structures, batch 2: 8 steps; checkpoints at steps 2, 4 and 6
OVERRIDES = (
    "data.max_structures=8",
    "train.batch_size=2",
    "train.epochs=2",
    "train.checkpoint_every=2",
    "train.log_every=1",
    "train.ema_decay=0.9",
)


@pytest.fixture
def no_training(monkeypatch):
    def fail(self):
        raise AssertionError("training started")

    monkeypatch.setattr(loop.Trainer, "fit", fail)


def _interrupt_at(monkeypatch, at_step: int) -> None:
    real = loop.train_step

    def interrupted(model, method, batch, optimizer, ctx):
        if ctx.step == at_step:  # the 1-based step number
            raise KeyboardInterrupt
        return real(model, method, batch, optimizer, ctx)

    monkeypatch.setattr(loop, "train_step", interrupted)


def _log(run_dir) -> list[dict]:
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    return [
        {k: v for k, v in d.items() if k not in ("structures_per_s", "train_time_s")}
        for d in lines
        if d["split"] == "train"
    ]


def test_results_under_a_regular_file_fail_before_training(tmp_path, no_training):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    cfg = ci_config(blocker / "results", method="none", data_dir=DATA_DIR)
    with pytest.raises(ConfigError, match="cannot write the run directory") as info:
        run_training(cfg)
    assert str(blocker / "results" / cfg.run_id) in str(info.value)


def test_read_only_results_fail_before_training(tmp_path, monkeypatch, no_training):
    def read_only(path, obj):  # what a read-only mount answers (root ignores chmod)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(run_module, "write_yaml_atomic", read_only)
    cfg = ci_config(tmp_path, method="none", data_dir=DATA_DIR)
    with pytest.raises(ConfigError, match="Permission denied") as info:
        run_training(cfg)
    assert str(tmp_path / cfg.run_id) in str(info.value)


def test_full_disk_fails_before_training_naming_the_directory(tmp_path, monkeypatch, no_training):
    seen = []

    def usage(path):
        seen.append(str(path))
        return type("Usage", (), {"total": 2**30, "used": 2**30 - 2**20, "free": 2**20})()

    monkeypatch.setattr(preflight.shutil, "disk_usage", usage)
    cfg = ci_config(tmp_path, method="none", data_dir=DATA_DIR)
    with pytest.raises(ConfigError, match=r"1\.0 MiB free, the run needs about 16\.\d MiB"):
        run_training(cfg)
    assert seen == [str(tmp_path)]  # the nearest existing folder: no run directory yet
    assert not (tmp_path / cfg.run_id).exists()
    assert not (tmp_path / cfg.run_id / "metrics.json").exists()


def test_required_bytes_by_hand():
    net = torch.nn.Linear(3, 2)  # 8 float32 parameters: 32 bytes
    net.register_buffer("scale", torch.zeros(4, dtype=torch.float64))  # 32 bytes
    assert preflight.checkpoint_bytes(net, ema=False) == 32 * 3 + 32
    assert preflight.checkpoint_bytes(net, ema=True) == 32 * 4 + 32 * 2
    cfg = TrainConfig(keep_checkpoints=2, ema_decay=None)
    assert preflight.required_bytes(net, cfg) == 128 * 3 + 64 + preflight.MARGIN_BYTES


def test_non_finite_loss_raises_at_its_step_and_leaves_parameters_untouched():
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.ones(1))

    class Nan(torch.nn.Module):
        def forward(self, batch, heads):
            return {"energy": model.w * float("nan"), "forces": batch.forces * model.w}

    batch = Batch.from_data_list(
        [
            Data(
                pos=torch.zeros(2, 3),
                forces=torch.ones(2, 3),
                energy=torch.zeros(1),
                fixed=torch.zeros(2, dtype=torch.bool),
            )
        ]
    )
    optimizer = torch.optim.SGD([model.w], lr=1.0)
    with pytest.raises(NonFiniteLossError, match="non-finite loss at step 7") as info:
        ctx = StepContext(1.0, 1.0, torch.Generator(), step=7)
        train_step(Nan(), build_method("none"), batch, optimizer, ctx)
    assert info.value.step == 7 and model.w.item() == 1.0 and model.w.grad is None


def test_divergence_mid_run_is_recorded_with_its_step(tmp_path, monkeypatch):
    real = loop.train_step

    def diverge_at_3(model, method, batch, optimizer, ctx):
        if ctx.step == 3:  # energy_std NaN: the energy term becomes NaN at step 3
            ctx = dataclasses.replace(ctx, energy_std=float("nan"))
        return real(model, method, batch, optimizer, ctx)

    monkeypatch.setattr(loop, "train_step", diverge_at_3)
    run_dir = run_training(
        ci_config(tmp_path, method="none", data_dir=DATA_DIR, overrides=OVERRIDES)
    )
    record = read_record(run_dir)
    assert (record.status, record.failure) == ("failed", "non-finite loss at step 3")
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == ["step-000000002.pt"]
    assert not (run_dir / "checkpoints" / "model.pt").exists()


def test_resume_falls_back_past_a_corrupt_checkpoint_and_a_torn_log(tmp_path, monkeypatch):
    full = run_training(ci_config(tmp_path / "a", data_dir=DATA_DIR, overrides=OVERRIDES))
    cfg = ci_config(tmp_path / "b", data_dir=DATA_DIR, overrides=OVERRIDES)
    _interrupt_at(monkeypatch, 6)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg)
    run_dir = tmp_path / "b" / cfg.run_id
    ckpts = run_dir / "checkpoints"
    newest = list_checkpoints(ckpts)[-1]
    assert newest.name == "step-000000004.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # torn write of the newest checkpoint
    (ckpts / ".step-000000006.pt.x1y2.tmp").write_bytes(b"partial")  # killed mid-write
    with open(run_dir / "log.jsonl", "a") as fh:
        fh.write('{"step": 6, "epoch": 1.5, "spl')  # killed mid-line
    monkeypatch.undo()
    steps_run = []
    real = loop.train_step

    def counted(*args, **kwargs):
        steps_run.append(args[4].step)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", counted)
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        resumed = run_training(
            ci_config(tmp_path / "b", data_dir=DATA_DIR, overrides=OVERRIDES), resume=True
        )
    assert steps_run == list(range(3, 9))  # from the step-2 checkpoint
    assert not list(ckpts.glob(".*.tmp"))
    assert _log(resumed) == _log(full)
    assert read_record(resumed).metrics == read_record(full).metrics


def test_resume_of_a_run_killed_before_its_first_checkpoint_restarts_cleanly(tmp_path, monkeypatch):
    overrides = (*OVERRIDES, "train.epochs=1")  # 4 steps, first checkpoint at step 2
    cfg = ci_config(tmp_path, method="none", data_dir=DATA_DIR, overrides=overrides)
    _interrupt_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg)
    run_dir = tmp_path / cfg.run_id
    assert [d["step"] for d in _log(run_dir)] == [1]
    assert not list_checkpoints(run_dir / "checkpoints")
    monkeypatch.undo()
    run_training(
        ci_config(tmp_path, method="none", data_dir=DATA_DIR, overrides=overrides), resume=True
    )
    assert [d["step"] for d in _log(run_dir)] == [1, 2, 3, 4]  # no duplicated step 1


def test_save_checkpoint_removes_temp_files_of_interrupted_writes(tmp_path):
    (tmp_path / ".step-000000003.pt.abc.tmp").write_bytes(b"x")
    (tmp_path / "notes.tmp").write_bytes(b"keep")
    save_checkpoint(tmp_path, 4, {"step": 4})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp", "step-000000004.pt"]
