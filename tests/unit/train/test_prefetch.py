"""DataLoader workers (train.loader_workers) build the same batches in the same order: the
run's weights, losses, random streams and exact resume do not depend on their number."""

from __future__ import annotations

import json
import multiprocessing
import random

import pytest
import torch
from torch_geometric.data import Data

import bench.train.loop as loop
from bench.errors import ConfigError
from bench.perf.train import TrainBenchOptions, build_trainer, run_config
from bench.records import RECORD_FILE, read_record
from bench.train.batches import EpochBatches
from bench.train.prefetch import BatchStream
from bench.train.run import default_run_id, run_training
from bench.train.setup import load_split
from tests.conftest import DATA_DIR
from tests.unit.train.conftest import SHORT_RUN, ci_config

# Equiformer with attention dropout and drop path: dropout draws from torch's global RNG, so
# a loader that drew its seed from it would change the weights.
OVERRIDES = (*SHORT_RUN, "model.options.alpha_drop=0.2", "model.options.drop_path=0.2")


def _children() -> set:
    """This process's live multiprocessing children (loader workers among them)."""
    return set(multiprocessing.active_children())


def _config(tmp_path, workers: int):
    overrides = (*OVERRIDES, f"train.loader_workers={workers}")
    return ci_config(tmp_path, "equiformer", data_dir=DATA_DIR, overrides=overrides)


def _weights(run_dir) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "model.pt", weights_only=True)


def _train_losses(run_dir) -> list[dict]:
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    drop = ("structures_per_s", "train_time_s")
    return [{k: v for k, v in d.items() if k not in drop} for d in lines if d["split"] == "train"]


def _assert_same_run(a, b) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    assert _train_losses(a) == _train_losses(b)
    assert read_record(a).metrics == read_record(b).metrics


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """The uninterrupted run without workers."""
    return run_training(_config(tmp_path_factory.mktemp("plain"), 0))


def test_workers_train_bit_for_bit_like_the_training_process(plain_run, tmp_path):
    cfg = _config(tmp_path, 2)
    assert cfg.train.loader_workers == 2
    assert cfg.run_id is None and default_run_id(cfg) == plain_run.name  # not in the run id
    _assert_same_run(plain_run, run_training(cfg))


def test_resume_with_workers_equals_the_uninterrupted_run(plain_run, tmp_path, monkeypatch):
    real_step = loop.train_step

    def interrupted(*args, **kwargs):
        if args[4].step == 8:  # the 1-based step number; the newest checkpoint is step 6
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    cfg, before = _config(tmp_path, 2), _children()
    monkeypatch.setattr(loop, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg)
    assert _children() == before  # the stream's workers exited
    # a record written before the option existed has no key: it resumes, with any workers
    record = tmp_path / cfg.run_id / RECORD_FILE
    data = json.loads(record.read_text())
    del data["config"]["train"]["loader_workers"]
    record.write_text(json.dumps(data))
    monkeypatch.setattr(loop, "train_step", real_step)
    resumed = run_training(_config(tmp_path, 1), resume=True)
    assert read_record(resumed).status == "done"
    _assert_same_run(plain_run, resumed)


def _structures(n: int) -> list[Data]:
    return [Data(pos=torch.full((i % 3 + 1, 3), float(i)), idx=torch.tensor([i])) for i in range(n)]


def test_stream_yields_the_batches_of_its_steps_and_keeps_the_global_rng():
    batches = EpochBatches(_structures(10), batch_size=3, seed=4)  # 3 steps per epoch
    expected = [batches.batch(*divmod(s, 3)).idx for s in range(2, 8)]
    torch.manual_seed(0)
    random.seed(0)
    before = _children()
    torch_state, python_state = torch.get_rng_state(), random.getstate()
    for workers in (0, 1):
        stream = BatchStream(batches, range(2, 8), workers)
        got = [b.idx for b in stream]
        assert [t.tolist() for t in got] == [t.tolist() for t in expected], workers
        assert stream.next_step == 8
        stream.close()
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == python_state
    assert _children() == before


def test_closed_stream_stops_its_workers():
    before = _children()
    stream = BatchStream(EpochBatches(_structures(10), 2, 0), range(0, 50), workers=1)
    next(stream)
    assert len(_children() - before) == 1
    stream.close()
    assert _children() == before
    with pytest.raises(StopIteration):
        next(stream)


def test_trainer_restarts_the_stream_at_a_step_set_by_hand():
    options = TrainBenchOptions(
        "schnet", batch_size=2, steps=4, warmup=1, repeats=1, overrides=("train.loader_workers=1",)
    )
    cfg, before = run_config(options, "none"), _children()
    trainer = build_trainer(cfg, load_split(cfg.data))
    trainer.one_step()
    trainer.step = 6  # e.g. what bench perf or a resume does between steps
    want = trainer.batches.batch(*divmod(6, trainer.steps_per_epoch))
    got = trainer.next_batch()
    assert torch.equal(got.pos, want.pos) and torch.equal(got.batch, want.batch)
    trainer.close_stream()
    assert _children() == before


def test_negative_workers_are_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, -1)
    assert str(info.value) == "config key 'train.loader_workers' must be >= 0, got -1"
    with pytest.raises(ValueError, match="workers must be >= 0, got -1"):
        BatchStream(EpochBatches(_structures(2), 1, 0), range(2), workers=-1)
