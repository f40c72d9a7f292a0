"""Command lines: `bench run` arguments, torchrun, thread budgets per launcher."""

from __future__ import annotations

import subprocess
import sys

from bench.matrix import GridPoint, spec_from_dict
from bench.matrix.command import run_args, torchrun_argv
from bench.matrix.execute import task_env
from bench.matrix.plan import Decision
from bench.matrix.run import build_task

FRESH = Decision("fresh", "no run directory")


def test_run_args_carry_every_identity_field():
    point = GridPoint(
        "equiformer",
        "dens",
        "rmd17",
        seed=2,
        molecule="aspirin",
        profile="released",
        max_steps=50,
        device="cuda",
        overrides={"train.lr": 0.001, "method.params.p": "x"},
    )
    args = run_args(point, "/res", "RID", data_root="/data", resume=True)
    assert args == [
        "run",
        "--backbone",
        "equiformer",
        "--method",
        "dens",
        "--dataset",
        "rmd17",
        "--seed",
        "2",
        "--preset",
        "ci",
        "--molecule",
        "aspirin",
        "--profile",
        "released",
        "--max-steps",
        "50",
        "--device",
        "cuda",
        "--data-root",
        "/data",
        "--set",
        "method.params.p=x",
        "--set",
        "train.lr=0.001",
        "--results",
        "/res",
        "--run-id",
        "RID",
        "--resume",
    ]


def test_torchrun_command_for_one_run_across_local_gpus(tmp_path):
    spec = spec_from_dict(
        {
            "backbones": "escn",
            "methods": "dens",
            "datasets": "oc20",
            "launcher": "torchrun",
            "gpus": 4,
            "threads": 2,
            "results": str(tmp_path),
        }
    )
    point = GridPoint("escn", "dens", "oc20", seed=0)
    task = build_task(point, spec, FRESH)
    assert list(task.argv) == [
        "torchrun",
        "--standalone",
        "--nproc_per_node",
        "4",
        "-m",
        "bench.cli",
        "run",
        "--backbone",
        "escn",
        "--method",
        "dens",
        "--dataset",
        "oc20",
        "--seed",
        "0",
        "--preset",
        "ci",
        "--results",
        str(tmp_path),
        "--run-id",
        point.run_id(),
        "--resume",
    ]
    assert task.threads == 2 and not task.resume
    assert torchrun_argv(1, ["run"])[:4] == ["torchrun", "--standalone", "--nproc_per_node", "1"]


def test_slurm_task_uses_torchrun_above_one_gpu_and_splits_cpus(tmp_path):
    base = {
        "backbones": "escn",
        "methods": "dens",
        "datasets": "oc20",
        "launcher": "slurm",
        "results": str(tmp_path),
    }
    point = GridPoint("escn", "dens", "oc20", seed=0)
    multi = build_task(
        point, spec_from_dict({**base, "slurm": {"gpus_per_node": 4, "cpus_per_task": 32}}), FRESH
    )
    assert multi.argv[:4] == ("torchrun", "--standalone", "--nproc_per_node", "4")
    assert multi.threads == 8
    single = build_task(point, spec_from_dict({**base, "slurm": {"cpus_per_task": 6}}), FRESH)
    assert single.argv[:3] == (sys.executable, "-m", "bench.cli") and single.threads == 6


def test_local_task_gets_its_thread_budget_in_its_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    env = task_env(1, {"EXTRA": "1"})
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1" and env["EXTRA"] == "1"
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "1"  # torch sizes its pool from OMP_NUM_THREADS
