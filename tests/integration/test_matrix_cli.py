"""`bench matrix` and `bench ci-check` in a subprocess, with a fake `bench run` (no training),
plus (slow) the real ci-check against the committed baseline (its learning mode runs from
the wheel in .ci/run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE = f"{sys.executable} {ROOT / 'tests' / 'unit' / 'matrix' / 'fake_bench.py'}"


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=600,
    )


def test_matrix_records_failures_exits_1_and_skips_finished_runs(tmp_path):
    args = [
        "matrix",
        "--backbones",
        "schnet",
        "--methods",
        "none,dens",
        "--datasets",
        "rmd17",
        "--molecules",
        "ethanol",
        "--results",
        str(tmp_path),
        "--runner",
        FAKE,
        "--jobs",
        "2",
        "--threads",
        "1",
    ]
    first = bench(*args, "--seeds", "0,13")
    assert first.returncode == 1, first.stderr
    lines = first.stdout.splitlines()
    assert any(
        line.startswith("failed   schnet/dens/rmd17/ethanol/seed13")
        and line.endswith(": non-finite loss at step 3")
        for line in lines
    )
    assert lines[-1] == "matrix: 4 runs: 2 done, 2 failed"
    again = bench(*args, "--seeds", "0")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skipped (done)") == 2
    index = [json.loads(x) for x in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert len(index) == 4 and sorted(e["status"] for e in index) == ["done"] * 2 + ["failed"] * 2


def test_spec_file_slurm_dry_run_and_unknown_key(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "backbones: [equiformer]\nmethods: [dens]\ndatasets: [rmd17]\n"
        "molecules: [aspirin, ethanol]\nlauncher: slurm\n"
        "slurm: {partition: gpu, time_min: 90, gpus_per_node: 1}\n"
    )
    out = bench("matrix", "--spec", str(spec), "--results", str(tmp_path / "r"), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "#SBATCH --array=0-1%2" in out.stdout and "#SBATCH --partition=gpu" in out.stdout
    assert "--molecule ethanol" in out.stdout and not (tmp_path / "r").exists()
    spec.write_text("backbones: [equiformer]\nmethods: [dens]\ndatasets: [rmd17]\nseed: [1]\n")
    bad = bench("matrix", "--spec", str(spec))
    assert bad.returncode == 2
    assert "m.yaml: unknown key 'seed'" in bad.stderr and "Did you mean 'seeds'" in bad.stderr


def test_ci_check_passes_on_the_same_numbers_and_fails_with_a_diff(tmp_path):
    import io
    import shlex

    from rich.console import Console

    from bench.ci_check import run_ci_check

    baseline, results = tmp_path / "baseline.json", tmp_path / "r1"
    quiet = Console(file=io.StringIO())
    made = run_ci_check(baseline, True, results, runner=shlex.split(FAKE), console=quiet)
    assert made.ok and made.text == f"ci-check: wrote {baseline} (20 runs)\n"
    same = run_ci_check(
        baseline, False, results, runner=shlex.split(FAKE), console=quiet, exact=True
    )
    assert same.ok and "80 of 80 checks within tolerance" in same.text
    # the same finished (skipped) runs against a baseline whose forces were 20% lower
    data = json.loads(baseline.read_text())
    for metrics in data["runs"].values():
        metrics["test/force_mae_mev_per_a"] /= 1.2
    baseline.write_text(json.dumps(data))
    worse = bench(
        "ci-check",
        "--exact",
        "--baseline",
        str(baseline),
        "--runner",
        FAKE,
        "--results",
        str(results),
    )
    assert worse.returncode == 1
    assert "60 of 80 checks within tolerance" in worse.stdout and "20 FAILED" in worse.stdout
    rows = [line for line in worse.stdout.splitlines() if "test/force_mae_mev_per_a" in line]
    assert len(rows) == 20 and all("(+20.00%)" in r and "outside tolerance" in r for r in rows)


def test_ci_check_by_default_checks_that_every_run_learns(tmp_path):
    learns = bench("ci-check", "--runner", FAKE, "--results", str(tmp_path / "a"))
    assert learns.returncode == 0, learns.stdout + learns.stderr
    assert "ci-check (learning): 20 of 20 checks passed" in learns.stdout  # 5 backbones x 2
    flat = bench(
        "ci-check",
        "--runner",
        FAKE,
        "--results",
        str(tmp_path / "b"),
        env={"FAKE_FLAT_BACKBONE": "segnn"},
    )
    assert flat.returncode == 1
    failed = [
        line.split()[0:2]
        for line in flat.stdout.splitlines()
        if "FAILED" not in line and "fell by less than x1.2" in line
    ]
    assert sorted(failed) == [
        ["segnn/dens/rmd17/ethanol/seed0", "train_loss:"],
        ["segnn/dens/rmd17/ethanol/seed0", "val_force_mae:"],
        ["segnn/none/rmd17/ethanol/seed0", "train_loss:"],
        ["segnn/none/rmd17/ethanol/seed0", "val_force_mae:"],
    ]


@pytest.mark.slow
def test_real_matrix_skips_runs_of_the_same_resolved_config(tmp_path):
    args = [
        "matrix",
        "--backbones",
        "schnet",
        "--methods",
        "none,dens",
        "--datasets",
        "rmd17",
        "--molecules",
        "ethanol",
        "--data-root",
        str(ROOT / "tests" / "data"),
        "--max-steps",
        "3",
        "--results",
        str(tmp_path),
        "--jobs",
        "2",
        "--threads",
        "1",
    ]
    first = bench(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines()[-1] == "matrix: 2 runs: 2 done"
    again = bench(*args)
    assert again.returncode == 0 and again.stdout.count("skipped (done)") == 2
    changed = bench(*args, "--set", "train.lr=0.001", "--dry-run")
    assert changed.stdout.count("# fresh") == 2  # another config, another run
    # `bench run` of the same request, without --run-id, names it as the matrix did: with
    # --resume it finds the finished run and returns it
    same = bench(
        "run",
        "--backbone",
        "schnet",
        "--method",
        "dens",
        "--dataset",
        "rmd17",
        "--molecule",
        "ethanol",
        "--seed",
        "0",
        "--max-steps",
        "3",
        "--data-root",
        str(ROOT / "tests" / "data"),
        "--results",
        str(tmp_path),
        "--resume",
    )
    assert same.returncode == 0, same.stderr
    run_dir = Path(same.stdout.splitlines()[-1])
    index = [json.loads(x) for x in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert run_dir.name in {e["run_id"] for e in index}
    assert len(list(tmp_path.glob("rmd17-ethanol-schnet-*"))) == 2


@pytest.mark.slow
def test_real_ci_check_matches_the_committed_baseline():
    out = bench("ci-check", "--exact")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
