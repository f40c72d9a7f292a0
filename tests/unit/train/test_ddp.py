"""Data-parallel training: rank slices of the global batch, per-rank corruption streams, DDP
without unused parameters, and 2 gloo processes on CPU training like 1 process.

Equality condition (bench.train.distributed): the mean of the per-rank losses is the one-process
loss of the global batch when every term is a mean over equal-size shards. With ``none`` on
rMD17 aspirin every rank has 2 structures of 21 free atoms, so the energy mean (per structure)
and the force mean (per atom) both split evenly and the curves agree to float rounding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from torch_geometric.data import Batch, Data

import bench.train.step as step_module
from bench.errors import ConfigError
from bench.methods import build_method
from bench.methods.noisy_nodes import NoisyNodes
from bench.records import read_record
from bench.train.batches import EpochBatches, corruption_generator, derived_seed
from bench.train.distributed import World, participation, world_from_env
from bench.train.loop import RunIO, Trainer
from bench.train.normalization import Normalization
from bench.train.run import run_training
from bench.train.setup import (
    build_model,
    build_run_method,
    load_split,
    normalization,
    to_data_list,
)
from tests.conftest import DATA_DIR
from tests.unit.train.conftest import ci_config

SMALL = (
    "data.max_structures=8",
    "train.max_steps=4",
    "train.lr=5e-3",
    "train.grad_clip=1e6",
)  # grad_clip only makes grad_norm logged; it never clips


def _log(run_dir) -> list[dict]:
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    return [
        {k: v for k, v in d.items() if k not in ("structures_per_s", "train_time_s")}
        for d in lines
        if d["split"] == "train"
    ]


def _drop_norm(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "grad_norm"}


def test_rank_slices_tile_the_global_batch_of_one_process():
    data = [Data(pos=torch.zeros(1, 3), tag=torch.tensor([i])) for i in range(11)]
    one = EpochBatches(data, 4, seed=3, drop_last=True)
    ranks = [EpochBatches(data, 2, seed=3, rank=r, world_size=2) for r in range(2)]
    assert len(one) == len(ranks[0]) == len(ranks[1]) == 2  # 11 // 4; partial batch dropped
    for epoch in range(3):
        for i in range(2):
            tiled = torch.cat([r.batch(epoch, i).tag for r in ranks])
            assert torch.equal(tiled, one.batch(epoch, i).tag)
    assert len(EpochBatches(data, 4, seed=3, drop_last=False)) == 3
    assert len(EpochBatches(data, 2, seed=3, drop_last=False, rank=1, world_size=2)) == 2
    with pytest.raises(ValueError, match="cannot fill one global batch"):
        EpochBatches(data, 4, seed=3, rank=0, world_size=3)
    with pytest.raises(ValueError, match="rank"):
        EpochBatches(data, 4, seed=3, rank=2, world_size=2)


def _toy_batch(n_struct: int, n_atoms: int = 3) -> Batch:
    return Batch.from_data_list(
        [
            Data(
                pos=torch.randn(n_atoms, 3),
                forces=torch.randn(n_atoms, 3),
                fixed=torch.zeros(n_atoms, dtype=torch.bool),
                z=torch.ones(n_atoms, dtype=torch.long),
            )
            for _ in range(n_struct)
        ]
    )


def test_dens_task_draw_per_structure_does_not_depend_on_the_rank_count():
    assert derived_seed(5, 1, 0) == derived_seed(5, 1)  # rank 0 keeps the one-process stream
    method = build_method("dens", p_dens=0.25)
    fractions, masks = {}, {}
    for world, per_rank in ((1, 8), (2, 4), (4, 2)):
        drawn = []
        for rank in range(world):
            gen = corruption_generator(11, rank)
            draws = [method.prepare(_toy_batch(per_rank), gen).dens_structure for _ in range(400)]
            drawn.append(torch.stack(draws))
        masks[world] = drawn
        fractions[world] = torch.cat(drawn).double().mean().item()
    # 3200 Bernoulli(0.25) draws each: standard error 0.008; these seeds give errors < 0.02
    for world, frac in fractions.items():
        assert abs(frac - 0.25) < 0.02, (world, frac)
    assert not torch.equal(masks[2][0], masks[2][1])  # independent streams per rank
    first = method.prepare(_toy_batch(8), corruption_generator(11, 0)).dens_structure
    assert torch.equal(first, masks[1][0][0])


def test_world_from_env_reads_torchrun_and_rejects_partial_settings():
    assert world_from_env({}) == World()
    assert world_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == World(1, 2, 1)
    with pytest.raises(ConfigError, match="incomplete"):
        world_from_env({"RANK": "0"})
    with pytest.raises(ConfigError, match="inconsistent"):
        world_from_env({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})


def test_participation_is_zero_and_reaches_every_parameter():
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    anchor = participation(net)
    assert anchor.item() == 0.0
    anchor.backward()
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())


@pytest.fixture
def one_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.filterwarnings("ignore:Grad strides do not match bucket view strides")
def test_ddp_world_of_one_trains_exactly_like_no_ddp(tmp_path, one_process_group, monkeypatch):
    """A backbone built with a force encoder that noisy-nodes never feeds (its requirement
    patched here): without ``participation`` DDP (no find_unused_parameters) fails at the
    second step."""
    monkeypatch.setattr(NoisyNodes, "requires_force_encoding", True)
    plain_cfg = ci_config(
        tmp_path / "plain", method="noisy-nodes", data_dir=DATA_DIR, overrides=SMALL
    )
    ddp_cfg = ci_config(tmp_path / "ddp", method="noisy-nodes", data_dir=DATA_DIR, overrides=SMALL)
    with monkeypatch.context() as patch:
        patch.setattr(dist, "is_initialized", lambda: False)  # train without the group
        plain = run_training(plain_cfg)
    ddp = run_training(ddp_cfg)
    assert read_record(ddp).hardware["processes"] == 1
    log_ddp, log_plain = _log(ddp), _log(plain)
    assert [_drop_norm(d) for d in log_ddp] == [_drop_norm(d) for d in log_plain]
    for d, e in zip(log_ddp, log_plain, strict=True):  # the norm also sums the unused
        assert d["grad_norm"] == pytest.approx(e["grad_norm"], rel=1e-6)  # encoder's zeros
    assert read_record(ddp).metrics == read_record(plain).metrics
    monkeypatch.setattr(step_module, "participation", lambda model: 0.0)
    broken = ci_config(
        tmp_path / "broken", method="noisy-nodes", data_dir=DATA_DIR, overrides=SMALL
    )
    with pytest.raises(RuntimeError, match="did not receive grad"):
        run_training(broken)
    assert read_record(tmp_path / "broken" / broken.run_id).status == "failed"


def test_resume_with_another_number_of_ranks_is_refused(tmp_path):
    cfg = ci_config(
        tmp_path, method="none", data_dir=DATA_DIR, overrides=("data.max_structures=8",)
    )
    train = load_split(cfg.data).train
    method = build_run_method(cfg)
    model = build_model(cfg, method, Normalization.from_dict(normalization(cfg.data, train)))
    data = to_data_list(train, cfg.dtype)

    def trainer(world: World) -> Trainer:
        norm = Normalization(0.0, 1.0, 1.0)
        return Trainer(model, method, data, cfg.train, cfg.seed, norm, RunIO(tmp_path, world=world))

    trainer(World()).save_checkpoint()
    assert trainer(World()).resume()
    with pytest.raises(ConfigError, match="written by 1 process"):
        trainer(World(0, 2, 0)).resume()


def test_two_gloo_processes_give_the_loss_curve_of_one_process(tmp_path):
    """torchrun, 2 ranks x 2 structures vs 1 process x 4: the same global batches. Measured
    differences: losses and metrics ~1e-7 relative, weights ~6e-8 after 4 steps."""
    one = run_training(
        ci_config(
            tmp_path, method="none", data_dir=DATA_DIR, overrides=(*SMALL, "train.batch_size=4")
        )
    )
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "bench.cli",
        "run",
        "--backbone",
        "schnet",
        "--method",
        "none",
        "--dataset",
        "rmd17",
        "--molecule",
        "aspirin",
        "--data-root",
        str(DATA_DIR),
        "--results",
        str(tmp_path),
        *(x for o in SMALL for x in ("--set", o)),
        "--set",
        "train.batch_size=2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = tmp_path / proc.stdout.strip().splitlines()[-1].rsplit("/", 1)[-1]
    record = read_record(two)
    assert record.status == "done" and record.scale["global_batch_size"] == 4
    assert record.hardware["processes"] == 2
    log_one, log_two = _log(one), _log(two)
    assert [d["step"] for d in log_two] == [1, 2, 3, 4]
    for a, b in zip(log_one, log_two, strict=True):
        assert a.keys() == b.keys()
        for key in ("loss", "energy", "force", "grad_norm"):  # grad_norm: averaged, not summed
            assert b[key] == pytest.approx(a[key], rel=1e-5), (a["step"], key)
    w_one = torch.load(one / "checkpoints" / "model.pt", weights_only=True)
    w_two = torch.load(two / "checkpoints" / "model.pt", weights_only=True)
    for key in w_one:
        torch.testing.assert_close(w_two[key], w_one[key], rtol=1e-5, atol=1e-6)
    for split, metrics in read_record(one).metrics.items():
        for name, value in metrics.items():
            assert record.metrics[split][name] == pytest.approx(value, rel=1e-4), (split, name)
