"""The local launcher with a fake `bench run`: failures are recorded with their reason and
do not stop the matrix; re-issuing skips finished runs and resumes killed ones."""

from __future__ import annotations

import dataclasses
import io
import json

from rich.console import Console

from bench.matrix import RunIndex, run_matrix, spec_from_dict
from bench.records import read_record


def _spec(tmp_path, runner, **kw):
    base = {
        "backbones": "schnet",
        "methods": "none",
        "datasets": "rmd17",
        "seeds": "0",
        "results": str(tmp_path / "res"),
        "runner": runner,
        "threads": 1,
    }
    return spec_from_dict({**base, **kw})


def _quiet() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=200)


def test_failures_are_recorded_and_the_matrix_goes_on(tmp_path, fake_runner):
    spec = _spec(tmp_path, fake_runner, seeds="13,14,15,0", jobs=2)
    console = _quiet()
    result = run_matrix(spec, console, poll_s=0.05)
    by_seed = {run.point.seed: result.entries[run.task.run_id] for run in result.runs}
    assert by_seed[0].status == "done"
    assert (by_seed[13].status, by_seed[13].failure) == ("failed", "non-finite loss at step 3")
    assert (by_seed[14].status, by_seed[14].failure) == ("failed", "exit code 2: error: boom")
    assert (by_seed[15].status, by_seed[15].failure) == ("failed", "killed by SIGKILL")
    assert len(result.failed) == 3
    assert RunIndex(spec.results).read() == result.entries
    text = console.file.getvalue()
    assert "failed   schnet/none/rmd17/seed14" in text and "error: boom" in text
    assert "matrix: 4 runs: 1 done, 3 failed" in text
    log = result.runs[1].task.log_path.read_text()
    assert log.startswith("$ ") and "error: boom" in log


def test_reissue_skips_finished_and_resumes_killed_runs(tmp_path, fake_runner):
    spec = _spec(tmp_path, fake_runner, seeds="0,15")
    first = run_matrix(spec, _quiet(), poll_s=0.05)
    done_dir, killed_dir = (run.task.run_dir for run in first.runs)
    done_before = (done_dir / "metrics.json").read_text()
    assert read_record(killed_dir).status == "running"  # SIGKILLed mid-run

    second = run_matrix(spec, _quiet(), poll_s=0.05)
    assert [r.decision.action for r in second.runs] == ["skip", "resume"]
    assert (done_dir / "metrics.json").read_text() == done_before
    assert read_record(killed_dir).hardware["resumed"] is True
    assert "--resume" in (killed_dir / "command.txt").read_text()
    entries = second.entries
    assert [e.status for e in entries.values()] == ["done", "done"]
    assert entries[first.runs[0].task.run_id].note == "skipped (done)"
    assert entries[first.runs[1].task.run_id].note == "resumed with --resume"


def test_jobs_bound_concurrency_and_each_run_gets_its_threads(tmp_path, fake_runner, monkeypatch):
    monkeypatch.setenv("FAKE_SLEEP", "1.0")
    spec = _spec(tmp_path, fake_runner, seeds="0,1,2", jobs=2, threads=3)
    result = run_matrix(spec, _quiet(), poll_s=0.05)
    records = [read_record(run.task.run_dir) for run in result.runs]
    assert all(r.status == "done" and r.hardware["threads"] == "3" for r in records)
    spans = [(r.hardware["start"], r.hardware["end"]) for r in records]
    overlap = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert overlap == 2


def test_index_entry_has_point_and_config_hash(tmp_path, fake_runner):
    spec = _spec(tmp_path, fake_runner, overrides={"train.lr": 0.5})
    result = run_matrix(spec, _quiet(), poll_s=0.05)
    (entry,) = result.entries.values()
    assert entry.point["overrides"] == {"train.lr": 0.5} and entry.launcher == "local"
    assert len(entry.config_sha256) == 64
    line = json.loads((tmp_path / "res" / "index.jsonl").read_text())
    assert line["run_id"] == entry.run_id


def test_terminal_gets_a_live_rich_table(tmp_path, fake_runner):
    console = Console(file=io.StringIO(), force_terminal=True, width=160)
    run_matrix(_spec(tmp_path, fake_runner, seeds="0,13"), console, poll_s=0.05)
    text = console.file.getvalue()
    assert "matrix: 2 runs: 1 done, 1 failed" in text
    assert "non-finite loss at step 3" in text and "run id" in text  # table header
    assert "queued   schnet" not in text  # no plain lines on a terminal


def test_a_run_finished_elsewhere_after_the_skip_check_is_reported_skipped(
    tmp_path, fake_runner, monkeypatch
):
    """The race of two matrices on one folder: the other one finishes the run between this
    worker's look (nothing to skip) and its `bench run`, which returns the run as it is."""
    import bench.matrix.execute as execute

    spec = _spec(tmp_path, fake_runner)
    first = run_matrix(spec, _quiet(), poll_s=0.05)
    task = first.runs[0].task
    before = (task.run_dir / "metrics.json").read_text()
    monkeypatch.setattr(execute, "skip_reason", lambda run_dir: None)
    outcome = execute.execute_task(dataclasses.replace(task, resume=True))
    assert (outcome.status, outcome.failure) == ("skipped", "skipped (done)")
    assert (task.run_dir / "metrics.json").read_text() == before
    entry = RunIndex(spec.results).read()[task.run_id]
    assert (entry.status, entry.note) == ("done", "skipped (done)")
    assert "already done, returned as is" in task.log_path.read_text()


def test_a_run_done_while_another_matrix_still_indexes_it_running_is_shown_skipped(
    tmp_path, fake_runner
):
    """The other race of two matrices: the other one's `bench run` has finished (record
    done) but its index entry still says running when this matrix plans. This matrix skips
    the run and says so, not the other's index state."""
    spec = _spec(tmp_path, fake_runner)
    run_id = run_matrix(spec, _quiet(), poll_s=0.05).runs[0].task.run_id
    RunIndex(spec.results).update(run_id, status="running", note=None)  # the other's entry
    console = _quiet()
    second = run_matrix(spec, console, poll_s=0.05)
    assert [r.decision.action for r in second.runs] == ["skip"]
    lines = console.file.getvalue().splitlines()
    assert f"done     schnet/none/rmd17/seed0  ({run_id}): skipped (done)" in lines
    assert not any(line.startswith("running") for line in lines)
    assert lines[-1] == "matrix: 1 runs: 1 done"
