"""Three `bench matrix` processes on one results folder with overlapping grids, started
at the same instant (a wall-clock barrier) and staggered: every run is trained exactly once,
none is wrongly failed, the others report `skipped (done)` / `skipped (running elsewhere)`,
and all three exit 0. The fake `bench run` (tests/unit/matrix/fake_bench.py) takes the real
run lock; the default test mixes both starts (two at once, one later), the slow ones run
each pure variant and real ci runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
FAKE = f"{sys.executable} {ROOT / 'tests' / 'unit' / 'matrix' / 'fake_bench.py'}"
# overlapping grids: 6 distinct runs (none/dens x seeds 0, 1, 2)
GRIDS = [("none,dens", "0,1"), ("dens", "0,1,2"), ("none", "1,2")]
#: start `bench matrix` at wall time float(argv[1]) (all three processes at once)
AT_TIME = (
    "import sys, time; from bench.cli import main; "
    "time.sleep(max(0.0, float(sys.argv.pop(1)) - time.time())); main()"
)


def _matrices(
    results: Path, extra: list[str], delays_s: tuple[float, float, float], env: dict[str, str]
) -> list[subprocess.CompletedProcess]:
    """Run the three matrices, each starting ``delays_s[i]`` after a common instant."""
    at = time.time() + 3.0
    procs = []
    for (methods, seeds), delay in zip(GRIDS, delays_s, strict=True):
        start = at + delay
        args = [
            "matrix",
            "--backbones",
            "schnet",
            "--methods",
            methods,
            "--datasets",
            "rmd17",
            "--molecules",
            "aspirin",
            "--seeds",
            seeds,
            "--results",
            str(results),
            *extra,
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", AT_TIME, str(start), *args],
                cwd=ROOT,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "OMP_NUM_THREADS": "1", **env},
            )
        )
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return out


def _check(results: Path, done: list[subprocess.CompletedProcess]) -> list[Path]:
    for proc in done:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "failed" not in proc.stdout.replace("0 failed", ""), proc.stdout
    runs = sorted(p.parent for p in results.glob("*/metrics.json"))
    assert len(runs) == 6  # none lost
    for run in runs:
        assert json.loads((run / "metrics.json").read_text())["status"] == "done"
    index = [json.loads(x) for x in (results / "index.jsonl").read_text().splitlines()]
    assert sorted(e["status"] for e in index) == ["done"] * 6
    return runs


def _fake_matrices(results: Path, delays_s: tuple[float, float, float]) -> None:
    done = _matrices(results, ["--runner", FAKE, "--jobs", "2"], delays_s, {"FAKE_SLEEP": "0.3"})
    runs = _check(results, done)
    for run in runs:
        assert len((run / "trained.txt").read_text().splitlines()) == 1, run
    # 9 grid entries over 6 runs: each of the 3 overlaps was reported skipped by a matrix
    reports = sum(
        p.stdout.count("skipped (done)") + p.stdout.count("skipped (running elsewhere)")
        for p in done
    )
    assert reports >= 3, [p.stdout for p in done]


def test_three_fake_matrices_two_at_once_one_later_train_each_run_once(tmp_path):
    _fake_matrices(tmp_path, (0.0, 0.0, 1.0))


@pytest.mark.slow
@pytest.mark.parametrize(
    "delays_s", [(0.0, 0.0, 0.0), (0.0, 0.7, 1.4)], ids=["simultaneous", "staggered"]
)
def test_three_fake_matrices_train_each_run_once(tmp_path, delays_s):
    _fake_matrices(tmp_path, delays_s)


@pytest.mark.slow
def test_three_real_matrices_train_each_run_once(tmp_path):
    extra = [
        "--data-root",
        str(DATA),
        "--max-steps",
        "3",
        "--set",
        "data.max_structures=8",
        "--set",
        "train.batch_size=2",
    ]
    done = _matrices(tmp_path, extra, (0.0, 0.0, 0.0), {})
    for run in _check(tmp_path, done):
        steps = [json.loads(x)["step"] for x in (run / "log.jsonl").read_text().splitlines()]
        assert steps == [1, 2, 3], run  # one training: no duplicated log lines
