"""The CLI's error handler: usage errors through the installed `bench` entry point and
through ``python -c``, exit 2 with one line and no traceback; an unexpected exception is one
line naming its type, exit 1, with its traceback only under DENS_BENCH_DEBUG=1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bench.config_file
from bench.cli import DEBUG_VAR, main

ROOT = Path(__file__).resolve().parents[2]
PYTHON_C = [sys.executable, "-c", "from bench.cli import main; main()"]
RUN = ["run", "--backbone", "schnet", "--method", "none", "--dataset", "rmd17"]
USAGE_ERRORS = [
    (["run", "--backbone", "schnet", "--method", "none", "--bogus"], "No such option: --bogus"),
    (["run", "--backbone", "schnet", "--dataset", "rmd17"], "missing option --method"),
    ([*RUN, "--seed", "abc"], "Invalid value for '--seed'"),
    (["no-such-command"], "No such command 'no-such-command'"),
]


def _bench(program: list[str], args: list[str], **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [*program, *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )


def _one_line(proc: subprocess.CompletedProcess, code: int, needle: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert needle in proc.stderr


@pytest.mark.parametrize(("args", "needle"), USAGE_ERRORS, ids=lambda v: str(v)[:30])
def test_usage_error_through_python_c(args, needle):
    proc = _bench(PYTHON_C, args)
    _one_line(proc, 2, needle)
    assert "bench " in proc.stderr  # the hint names the program, not "-c"


@pytest.mark.parametrize(("args", "needle"), USAGE_ERRORS[:3], ids=lambda v: str(v)[:30])
def test_usage_error_through_the_installed_entry_point(args, needle):
    script = shutil.which("bench")
    if script is None:
        pytest.skip("no installed `bench` console script")
    _one_line(_bench([script], args), 2, needle)


def test_unexpected_error_is_one_line_with_a_debug_hint(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("resolver exploded")

    monkeypatch.setattr(bench.config_file, "resolve_with_file", broken)
    monkeypatch.setattr(sys, "argv", ["bench", *RUN, "--molecule", "aspirin"])
    monkeypatch.delenv(DEBUG_VAR, raising=False)
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 1 and len(err.strip().splitlines()) == 1
    assert "unexpected RuntimeError: resolver exploded" in err and f"{DEBUG_VAR}=1" in err
    monkeypatch.setenv(DEBUG_VAR, "1")
    with pytest.raises(RuntimeError, match="resolver exploded"):
        main()
