"""Skip finished runs, resume unfinished ones with checkpoints, start the rest fresh."""

from __future__ import annotations

import pytest
import yaml

from bench.matrix import decide, plan_matrix, spec_from_dict
from bench.matrix.run import set_aside
from bench.records import RunRecord


def _run_dir(root, status=None, checkpoint=False, config=None, corrupt=False):
    run = root / "r"
    run.mkdir()
    if status:
        RunRecord(run_id="r", status=status, config=config or {}, seed=0).write(run)
    if corrupt:
        (run / "metrics.json").write_text("{not json")
    if config is not None:
        (run / "config.yaml").write_text(yaml.safe_dump(config))
    if checkpoint:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "step_10.pt").write_bytes(b"x")
    return run


@pytest.mark.parametrize(
    "kwargs, action",
    [
        ({"status": "done"}, "skip"),
        ({"status": "done", "checkpoint": True}, "skip"),
        ({"status": "running", "checkpoint": True}, "resume"),
        ({"status": "failed", "checkpoint": True}, "resume"),
        ({"corrupt": True, "checkpoint": True}, "resume"),
        ({"checkpoint": True}, "resume"),
        ({"status": "running"}, "resume"),  # bench run --resume restarts without checkpoint
        ({"status": "failed"}, "resume"),
        ({}, "fresh"),
    ],
)
def test_decision_from_the_run_directory(tmp_path, kwargs, action):
    assert decide(_run_dir(tmp_path, **kwargs)).action == action


def test_missing_directory_is_fresh(tmp_path):
    assert decide(tmp_path / "nope").action == "fresh"


def test_an_empty_checkpoint_folder_without_record_starts_fresh(tmp_path):
    run = _run_dir(tmp_path)
    (run / "checkpoints").mkdir()
    assert decide(run).action == "fresh"


def test_finished_run_is_skipped_only_with_the_same_resolved_config(tmp_path):
    config = {"seed": 0, "run_id": "r", "results": "/a", "data": {"data_root": "/d", "n": 4}}
    run = _run_dir(tmp_path, status="done", config=config)
    assert decide(run, expected_config={"seed": 0, "data": {"n": 4}}).action == "skip"
    decision = decide(run, expected_config={"seed": 0, "data": {"n": 5}})
    assert decision.action == "replace" and "different resolved config" in decision.reason


def test_unfinished_run_of_another_config_is_replaced_not_resumed(tmp_path):
    run = _run_dir(tmp_path, status="failed", checkpoint=True, config={"seed": 1})
    assert decide(run, expected_config={"seed": 1}).action == "resume"
    assert decide(run, expected_config={"seed": 2}).action == "replace"


def test_plan_resumes_unfinished_runs_and_always_passes_resume(tmp_path):
    """--resume on every command line: a run another matrix started meanwhile continues
    instead of clashing; ``task.resume`` still says which runs the plan resumes."""
    spec = spec_from_dict(
        {
            "backbones": "schnet",
            "methods": "none,dens",
            "datasets": "rmd17",
            "seeds": "0,1",
            "results": str(tmp_path),
            "runner": ["fake"],
        }
    )
    first = plan_matrix(spec)
    done, unfinished = first[0].task.run_dir, first[1].task.run_dir
    RunRecord(run_id="a", status="done", config={}, seed=0).write(done)
    RunRecord(run_id="b", status="failed", config={}, seed=1).write(unfinished)
    (unfinished / "checkpoints").mkdir()
    (unfinished / "checkpoints" / "last.pt").write_bytes(b"x")
    planned = plan_matrix(spec)
    actions = [(p.decision.action, p.task.resume) for p in planned]
    assert actions == [("skip", False), ("resume", True), ("fresh", False), ("fresh", False)]
    assert all(p.task.argv[-1] == "--resume" for p in planned)


def test_plan_compares_with_the_resolver_and_replaced_runs_are_set_aside(tmp_path):
    spec = spec_from_dict(
        {
            "backbones": "schnet",
            "methods": "none",
            "datasets": "rmd17",
            "results": str(tmp_path),
            "runner": ["fake"],
        }
    )
    (planned,) = plan_matrix(spec)
    run_dir = planned.task.run_dir
    RunRecord(run_id="a", status="done", config={}, seed=0).write(run_dir)
    (run_dir / "config.yaml").write_text("seed: 0\nlr: 1\n")
    assert plan_matrix(spec, lambda point: {"seed": 0, "lr": 1})[0].decision.action == "skip"
    assert plan_matrix(spec, lambda point: {"seed": 0, "lr": 2})[0].decision.action == "replace"
    moved = set_aside(run_dir)
    assert moved.name.startswith(planned.task.run_id + ".superseded-")
    assert (moved / "metrics.json").is_file() and not run_dir.exists()
    assert plan_matrix(spec, lambda point: {"seed": 0, "lr": 2})[0].decision.action == "fresh"
