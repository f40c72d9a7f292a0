"""The CUDA paths (marked ``gpu``; skipped without a GPU, run by ``tools/gpu_check.sh``).

A two-step training run per backbone on CUDA logs the CPU run's losses (same init, same
corruption draws: both come from CPU generators); bf16 autocast really runs bf16 on CUDA and
stays near fp32; one-rank DDP over nccl trains like one process; peak CUDA memory is recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from bench.config import resolve_config
from bench.perf.datasets import dataset_options
from bench.perf.memory import PeakMemory
from bench.records import read_record
from bench.train.run import run_training
from bench.train.step import autocast
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.gpu

#: backbone -> perf dataset shortcut it trains on here (the paper's data kind for each)
BACKBONES = {
    "schnet": "md17-aspirin",
    "equiformer": "md17-aspirin",
    "segnn": "md17-aspirin",
    "equiformer-v2": "oc20-relax",
    "escn": "oc20-relax",
}
STEPS = (
    "data.max_structures=8",
    "data.n_train=4",
    "data.n_val=1",
    "train.max_steps=2",
    "train.batch_size=2",
    "train.val_every_epochs=0",
)


def _config(tmp_path, backbone: str, device: str, *overrides: str):
    dataset, cli = dataset_options(BACKBONES[backbone], DATA_DIR)
    cli |= {"device": device, "results": str(tmp_path / device), "seed": 3}
    return resolve_config(backbone, "dens", dataset, "ci", "paper-v1", cli, [*STEPS, *overrides])


def _losses(run_dir) -> list[float]:
    return [json.loads(x)["loss"] for x in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_cuda_training_steps_match_cpu(tmp_path, backbone):
    cpu = run_training(_config(tmp_path, backbone, "cpu"))
    gpu = run_training(_config(tmp_path, backbone, "cuda"))
    record = read_record(gpu)
    assert record.status == "done" and record.hardware["gpu"] == torch.cuda.get_device_name()
    assert record.peak_memory_mb > 0
    losses_cpu, losses_gpu = _losses(cpu), _losses(gpu)
    assert len(losses_gpu) == 2
    # step 1: identical inputs, float32 kernels differ only in rounding; step 2 after one update
    assert losses_gpu == pytest.approx(losses_cpu, rel=1e-3)


@pytest.mark.parametrize("backbone", ["equiformer", "equiformer-v2"])
def test_bf16_autocast_on_cuda(tmp_path, backbone):
    seen = []
    model = torch.nn.Linear(8, 8).cuda()
    model.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with autocast(torch.device("cuda"), True):
        model(torch.randn(2, 8, device="cuda"))
    assert seen == [torch.bfloat16]
    fp32 = _losses(run_training(_config(tmp_path / "fp32", backbone, "cuda")))
    bf16 = _losses(run_training(_config(tmp_path / "bf16", backbone, "cuda", "train.amp=true")))
    assert all(torch.isfinite(torch.tensor(bf16)))
    assert bf16[0] == pytest.approx(fp32[0], rel=0.05)  # bf16 keeps 8 mantissa bits


def test_one_rank_nccl_ddp_trains_like_one_process(tmp_path):
    one = run_training(_config(tmp_path / "one", "schnet", "cuda"))
    dataset, cli = dataset_options("md17-aspirin", DATA_DIR)
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "1",
        "-m",
        "bench.cli",
        "run",
        "--backbone",
        "schnet",
        "--method",
        "dens",
        "--dataset",
        dataset,
        "--molecule",
        "aspirin",
        "--data-root",
        str(DATA_DIR),
        "--device",
        "cuda",
        "--dist-backend",
        "nccl",
        "--seed",
        "3",
        "--results",
        str(tmp_path / "ddp"),
        "--set",
        "data.labels=original",
        *(x for o in STEPS for x in ("--set", o)),
    ]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = tmp_path / "ddp" / proc.stdout.strip().splitlines()[-1].rsplit("/", 1)[-1]
    record = read_record(ddp)
    assert record.status == "done" and record.hardware["processes"] == 1
    assert _losses(ddp) == pytest.approx(_losses(one), rel=1e-5)


def test_cuda_peak_memory_sees_a_step_allocation():
    memory = PeakMemory("cuda")
    memory.reset()
    base = memory.peak_mb()
    block = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")  # 256 MB
    del block
    assert memory.peak_mb() - base == pytest.approx(256, abs=1)
    memory.reset()
    assert memory.peak_mb() < base + 1  # reset: the next step starts from what is allocated
