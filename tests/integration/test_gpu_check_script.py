"""tools/gpu_check.sh without a GPU: its dry run prints every CUDA check it promises, and
(slow) its DEVICE=cpu mode runs the same commands end to end on tiny settings."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.backbones.registry import BACKBONES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "gpu_check.sh"


def _script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=900,
    )


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_dry_run_prints_the_cuda_checks_and_writes_nothing(tmp_path):
    out = tmp_path / "records"
    proc = _script("--dry-run", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not out.exists()
    commands = [shlex.split(line) for line in proc.stdout.splitlines()]
    install, pytest_gpu = commands[0], commands[1]
    assert install[1:4] == ["-m", "pip", "install"] and "--no-index" in install
    assert pytest_gpu[1:5] == ["-m", "pytest", "-m", "gpu"]
    runs = [c for c in commands if c[1:4] == ["-m", "bench.cli", "run"]]
    assert sorted(
        (_option(c, "--backbone"), c[c.index("--set") + 1 :].count("train.amp=true")) for c in runs
    ) == sorted((b, amp) for b in BACKBONES for amp in (0, 1))
    for c in runs:
        assert (_option(c, "--device"), _option(c, "--max-steps")) == ("cuda", "20")
        assert Path(_option(c, "--results")) == out / "runs"
    (ddp,) = [c for c in commands if "torch.distributed.run" in c]
    assert _option(ddp, "--nproc_per_node") == "1" and _option(ddp, "--dist-backend") == "nccl"
    perf = [c for c in commands if c[1:4] == ["-m", "bench.cli", "perf"] and "--backbone" in c]
    assert sorted(_option(c, "--backbone") for c in perf) == sorted(BACKBONES)
    for c in perf:
        assert (_option(c, "--preset"), _option(c, "--methods")) == ("paper", "none,dens")
        assert Path(_option(c, "--output")).parent == out
        assert Path(_option(c, "--output")).name.startswith("gpu-")


def test_usage_errors_exit_2():
    for args in ((), ("--dry-run",), ("a", "b")):
        proc = _script(*args)
        assert proc.returncode == 2 and proc.stderr.startswith("usage: tools/gpu_check.sh")


def test_a_spent_budget_skips_the_remaining_steps(tmp_path):
    proc = _script(str(tmp_path), BUDGET_S="0", INSTALL="0", BACKBONES="schnet")
    assert proc.returncode == 1
    rows = [line.split("\t") for line in (tmp_path / "gpu-check.tsv").read_text().splitlines()]
    assert rows[0] == ["step", "status", "seconds"] and len(rows) == 7
    assert {(status, seconds) for _, status, seconds in rows[1:]} == {("skipped", "0")}


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_script_is_shellcheck_clean():
    proc = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
def test_cpu_mode_runs_every_step(tmp_path):
    proc = _script(
        str(tmp_path),
        DEVICE="cpu",
        INSTALL="0",
        STEPS="2",
        PERF_PRESET="ci",
        PERF_STEPS="2",
        PERF_WARMUP="1",
        PERF_REPEATS="1",
        BACKBONES="schnet",
        BUDGET_S="850",
        OMP_NUM_THREADS="1",
    )
    steps = [line.split("\t") for line in (tmp_path / "gpu-check.tsv").read_text().splitlines()]
    assert proc.returncode == 0, (steps, proc.stderr)
    assert [s[0] for s in steps[1:]] == [
        "pytest-gpu",
        "run-schnet-amp-false",
        "run-schnet-amp-true",
        "ddp-1-rank",
        "perf-schnet",
        "perf-graph",
    ]
    assert {s[1] for s in steps[1:]} == {"0"}
    for name in ("gpu-train-schnet-ci.json", "gpu-graph-oc20-6x6x1.json", "gpu-pytest.xml"):
        assert (tmp_path / name).is_file()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "gpu-schnet-amp-false",
        "gpu-schnet-amp-true",
        "gpu-schnet-ddp-gloo",
    ]
