"""`bench run` killed with SIGKILL resumes with `--resume` and ends exactly where an
uninterrupted run ends (CPU); an unusable results folder is exit 2 before any training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.run_request import RunRequest

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).resolve().parents[1] / "data"
# DeNS (corruption stream), EMA and clipping: every piece of state a resume must restore.
# 8 train structures, batch 2, 3 epochs: 12 steps, a checkpoint every 2.
RUN = RunRequest(
    "schnet", "dens", "rmd17", molecule="aspirin", data_root=str(DATA), seed=5, epochs=3, run_id="r"
).argv()
SETS = [
    "data.max_structures=8",
    "train.batch_size=2",
    "train.checkpoint_every=2",
    "train.log_every=1",
    "train.ema_decay=0.9",
    "train.grad_clip=10.0",
    "method.params.p_dens=0.5",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _argv(results: Path, *extra: str) -> list[str]:
    return [
        *BENCH,
        *RUN,
        "--results",
        str(results),
        *(a for s in SETS for a in ("--set", s)),
        *extra,
    ]


def _train_log(run_dir: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    return [
        {k: v for k, v in d.items() if k not in ("structures_per_s", "train_time_s")}
        for d in lines
        if d["split"] == "train"
    ]


def _kill_after_first_checkpoint(results: Path, argv: list[str] | None = None) -> None:
    """Start ``argv`` (default: the run) in its own session, SIGKILL the whole session (every
    process of it, as a dying node would) once a checkpoint exists."""
    proc = subprocess.Popen(
        argv or _argv(results),
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    checkpoints = results / "r" / "checkpoints"
    deadline = time.monotonic() + 240
    while not list(checkpoints.glob("step-*.pt")):
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path):
    full = subprocess.run(
        _argv(tmp_path / "full"), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert full.returncode == 0, full.stderr

    _kill_after_first_checkpoint(tmp_path / "killed")
    run_dir = tmp_path / "killed" / "r"
    killed = json.loads((run_dir / "metrics.json").read_text())
    assert killed["status"] == "running" and killed["metrics"] == {}  # never looks finished
    resumed = subprocess.run(
        _argv(tmp_path / "killed", "--resume"), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr

    expected = json.loads((tmp_path / "full" / "r" / "metrics.json").read_text())
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "done" and record["steps"] == expected["steps"] == 12
    assert record["metrics"] == expected["metrics"]  # exactly, not approximately
    assert _train_log(run_dir) == _train_log(tmp_path / "full" / "r")
    assert (run_dir / "checkpoints" / "model.pt").read_bytes() == (
        tmp_path / "full" / "r" / "checkpoints" / "model.pt"
    ).read_bytes()


def test_unusable_results_folder_is_exit_2_naming_it_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = subprocess.run(
        _argv(blocker / "results"), env=ENV, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert str(blocker / "results" / "r") in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_sigkilled_torchrun_run_resumes_to_the_uninterrupted_result(tmp_path):
    """2 gloo ranks: every rank's corruption stream is restored from the checkpoint."""

    def torchrun(results: Path, *extra: str) -> list[str]:
        args = _argv(results, *extra)[len(BENCH) :]
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "bench.cli",
            *args,
            "--set",
            "train.batch_size=1",
        ]

    full = subprocess.run(
        torchrun(tmp_path / "full"), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert full.returncode == 0, full.stderr[-3000:]
    _kill_after_first_checkpoint(tmp_path / "killed", torchrun(tmp_path / "killed"))
    run_dir = tmp_path / "killed" / "r"
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "running"
    resumed = subprocess.run(
        torchrun(tmp_path / "killed", "--resume"),
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = json.loads((tmp_path / "full" / "r" / "metrics.json").read_text())
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "done" and record["scale"]["world_size"] == 2
    assert record["metrics"] == expected["metrics"]
    assert _train_log(run_dir) == _train_log(tmp_path / "full" / "r")
