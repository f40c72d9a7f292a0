"""`bench report` run as a subprocess on the fixture results directory."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).resolve().parents[1] / "data"
RESULTS = DATA / "results_fixture"


def _bench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_table_written_atomically_equals_golden(tmp_path):
    out = tmp_path / "reports" / "table4.md"
    proc = _bench("report", "--table", "4", "--results", str(RESULTS), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    assert out.read_text() == (DATA / "report_golden" / "table4.md").read_text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["table4.md"]


def test_summary_csv_lists_every_finished_run():
    proc = _bench(
        "report",
        "--summary",
        "--results",
        str(RESULTS),
        "--format",
        "csv",
        "--sort",
        "test/force_mae_mev_per_a",
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 14 and rows[0]["run"] == "md17/aspirin/equiformer-none-seed0-copy"


def test_plot_writes_png(tmp_path):
    out = tmp_path / "se.png"
    proc = _bench(
        "report", "--plot", "sample-efficiency", "--results", str(RESULTS), "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--table", "1x", "--results", str(RESULTS)), "no such paper table"),
        (("--table", "4", "--results", "absent"), "no such results directory"),
        (("--table", "4", "--summary"), "exactly one of"),
        (("--summary", "--commands"), "go with --table N"),
        (("--table", "1a", "--molecule", "aspirin"), "table 1a has no molecule columns"),
        (("--table", "7", "--commands"), "lists hyper-parameters"),
    ],
    ids=[
        "unknown-table",
        "no-results",
        "two-modes",
        "commands-no-table",
        "molecule-oc20",
        "hyper-commands",
    ],
)
def test_user_errors_exit_2(tmp_path, args, message):
    proc = _bench("report", *args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_commands_need_no_results_directory(tmp_path):
    """A bare directory (as after a wheel install): the paper tables are package data."""
    proc = _bench("report", "--table", "1e", "--commands", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = [ln for ln in proc.stdout.splitlines() if ln.startswith("bench run ")]
    assert len(runs) == 5 and "--variant dens-sigma-encoding" in runs[4]
    assert "about 7,505 GPU-hours in all" in proc.stdout  # 5 x 1501, Table 1d
    table = _bench("report", "--table", "4", "--molecule", "aspirin", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "Benzene" not in table.stdout and "paper (paper-v1)" in table.stdout


@pytest.mark.slow
def test_a_wheel_install_prints_the_paper_tables(tmp_path):
    """The paper tables are package data: an installed wheel, run from an empty directory,
    prints a results table, a hyper-parameter table and the commands."""
    root = Path(__file__).resolve().parents[2]
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        timeout=300,
    )
    bare = tmp_path / "bare"
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for args, expect in (
        (("--table", "1e", "--format", "csv"), "19.32"),
        (("--table", "7"), "train.batch_size"),
        (("--table", "4", "--commands"), "--variant equiformer-lmax3"),
    ):
        proc = subprocess.run(
            [python, "-c", "from bench.cli import main; main()", "report", *args],
            capture_output=True,
            text=True,
            cwd=bare,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0 and expect in proc.stdout, proc.stderr
