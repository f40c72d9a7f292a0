"""Faults during and after a run leave no trace but a clear record: a full disk mid-run is
``failed: no space left on device`` (one line, exit 2) and resumes; SIGTERM is
``interrupted`` (exit 143) and resumes; stale ``.model.pt.*.tmp`` files are cleaned; a
corrupt metrics.json is skipped by ``bench report --summary``; a truncated model.pt is a
DataError naming it; a locked run is not trained twice. The CLI runs in-process
(``bench.cli.main``) so that the faults can be injected."""

from __future__ import annotations

import errno
import shutil
import signal
import sys
from pathlib import Path

import pytest

import bench.train.checkpoint as checkpoint
import bench.train.loop as loop
from bench.cli import main
from bench.records import read_record
from bench.run_lock import run_lock
from bench.run_request import RunRequest
from bench.train.preflight import NO_SPACE

DATA = Path(__file__).resolve().parents[1] / "data"
# 8 train structures, batch 2, 2 epochs: 8 steps, checkpoints at steps 2, 4, 6
RUN = RunRequest(
    "schnet",
    "none",
    "rmd17",
    molecule="aspirin",
    data_root=str(DATA),
    run_id="r",
    epochs=2,
    overrides=("data.max_structures=8", "train.batch_size=2", "train.checkpoint_every=2"),
).argv()


def bench(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """``bench ARGS`` in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["bench", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err: str, needle: str) -> None:
    """The failure (or warning) is one line, the last one on stderr (the progress lines of the steps
    that ran come before it), with no traceback."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith(("error:", "warning:"))]
    assert "Traceback" not in err and errors == lines[-1:], err
    assert needle in errors[0], err


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished run directory (shared; tests copy it before changing it)."""
    results = tmp_path_factory.mktemp("finished")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["bench", *RUN, "--results", str(results)])
        main()
    return results / "r"


def test_full_disk_mid_run_is_recorded_and_resumes(tmp_path, monkeypatch, capsys):
    real = checkpoint.write_bytes_atomic

    def full_at_step_4(path, data):
        if "step-000000004" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(checkpoint, "write_bytes_atomic", full_at_step_4)
    code, _, err = bench([*RUN, "--results", str(tmp_path)], monkeypatch, capsys)
    assert code == 2
    _one_line(err, NO_SPACE)
    record = read_record(tmp_path / "r")
    assert (record.status, record.failure) == ("failed", NO_SPACE)
    stale = tmp_path / "r" / "checkpoints" / ".model.pt.k1ll3d.tmp"  # a killed weights write
    stale.write_bytes(b"partial")
    monkeypatch.setattr(checkpoint, "write_bytes_atomic", real)  # space freed
    code, _, err = bench([*RUN, "--results", str(tmp_path), "--resume"], monkeypatch, capsys)
    assert code == 0, err
    assert read_record(tmp_path / "r").status == "done"
    assert not stale.exists() and (tmp_path / "r" / "checkpoints" / "model.pt").is_file()


def test_sigterm_records_interrupted_and_resume_finishes(tmp_path, monkeypatch, capsys):
    real = loop.train_step

    def terminated_at_step_5(*args, **kwargs):
        if args[4].step == 5:  # the 1-based step number
            signal.raise_signal(signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", terminated_at_step_5)
    code, _, err = bench([*RUN, "--results", str(tmp_path)], monkeypatch, capsys)
    assert code == 128 + signal.SIGTERM
    _one_line(err, "interrupted by SIGTERM (--resume continues from step 4)")
    assert read_record(tmp_path / "r").status == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    monkeypatch.setattr(loop, "train_step", real)
    code, _, err = bench([*RUN, "--results", str(tmp_path), "--resume"], monkeypatch, capsys)
    assert code == 0, err
    record = read_record(tmp_path / "r")
    assert record.status == "done" and record.steps == 8


def test_a_locked_run_is_not_trained_twice(tmp_path, monkeypatch, capsys):
    with run_lock(tmp_path / "r"):
        code, _, err = bench([*RUN, "--results", str(tmp_path), "--resume"], monkeypatch, capsys)
    assert code == 3
    _one_line(err, "running in another process")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["run.lock"]


def test_eval_of_a_truncated_model_names_the_file(finished, tmp_path, monkeypatch, capsys):
    run = shutil.copytree(finished, tmp_path / "r")
    weights = run / "checkpoints" / "model.pt"
    weights.write_bytes(weights.read_bytes()[:200])
    code, _, err = bench(["eval", "--run", str(run)], monkeypatch, capsys)
    assert code == 2
    _one_line(err, f"{weights}: unreadable weights")


def test_summary_skips_a_corrupt_record_with_a_warning(finished, tmp_path, monkeypatch, capsys):
    shutil.copytree(finished, tmp_path / "good")
    bad = shutil.copytree(finished, tmp_path / "bad") / "metrics.json"
    bad.write_text(bad.read_text()[:50])
    code, out, err = bench(
        ["report", "--summary", "--format", "csv", "--results", str(tmp_path)], monkeypatch, capsys
    )
    assert code == 0
    _one_line(err, f"warning: skipped {bad}: not valid JSON")
    runs = [line.split(",")[0] for line in out.strip().splitlines()[1:]]
    assert runs == ["good"]
