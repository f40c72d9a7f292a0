"""The SLURM launcher: dry-run sbatch script, and real submissions through submitit's local
executor (same code path as on a cluster, minus sbatch)."""

from __future__ import annotations

import io

import submitit
from rich.console import Console

from bench.matrix import RunIndex, dry_run, run_matrix, spec_from_dict
from bench.matrix.execute import RunTask
from bench.matrix.slurm import SlurmRunJob, with_resume
from bench.records import read_record

SLURM = {
    "partition": "gpu",
    "account": "chem",
    "time_min": 600,
    "gpus_per_node": 2,
    "cpus_per_task": 16,
    "mem_gb": 64,
    "array_parallelism": 3,
    "setup": ["module load cuda/12.1", "source ~/venv/bin/activate"],
}


def _spec(tmp_path, **kw):
    base = {
        "backbones": "schnet,equiformer",
        "methods": "none,dens",
        "datasets": "rmd17",
        "launcher": "slurm",
        "results": str(tmp_path),
        "max_steps": 100,
        "slurm": SLURM,
    }
    return spec_from_dict({**base, **kw})


def test_dry_run_prints_the_array_script_with_the_resources(tmp_path):
    text = dry_run(_spec(tmp_path))
    lines = text.splitlines()
    for line in [
        "#SBATCH --array=0-3%3",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=chem",
        "#SBATCH --time=600",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=16",
        "#SBATCH --mem=65536MB",
        "#SBATCH --job-name=bench-matrix",
        "#SBATCH --ntasks-per-node=1",
        "module load cuda/12.1",
        "-u -m submitit.core._submit",
    ]:
        assert any(line in t for t in lines), line
    tasks = [t for t in lines if t.startswith("# ") and ": OMP_NUM_THREADS=" in t]
    assert len(tasks) == 4
    assert tasks[0].startswith("# 0: OMP_NUM_THREADS=8 torchrun --standalone --nproc_per_node 2")
    assert "--backbone schnet --method none" in tasks[0] and "--max-steps 100" in tasks[0]
    assert not (tmp_path / "index.jsonl").exists()  # a dry run writes nothing


def test_dry_run_leaves_finished_runs_out_of_the_array(tmp_path):
    from bench.records import RunRecord

    spec = _spec(tmp_path)
    first = dry_run(spec)
    run_id = first.splitlines()[0].split("(")[1].split(")")[0]
    RunRecord(run_id=run_id, status="done", config={}, seed=0).write(tmp_path / run_id)
    text = dry_run(spec)
    assert "#SBATCH --array=0-2%3" in text
    assert f"# skip    schnet/none/rmd17/seed0  ({run_id})" in text


def test_requeue_after_preemption_resumes(tmp_path):
    task = RunTask("r", ("bench", "run", "--run-id", "r"), str(tmp_path))
    delayed = SlurmRunJob().checkpoint(task)
    assert isinstance(delayed, submitit.helpers.DelayedSubmission)
    (resumed,) = delayed.args
    assert resumed.argv[-1] == "--resume" and resumed.resume
    assert with_resume(resumed).argv == resumed.argv  # added once


def test_local_executor_runs_the_array_through_the_slurm_path(tmp_path, fake_runner):
    spec = _spec(
        tmp_path,
        backbones="schnet",
        methods="none",
        seeds="0,13",
        runner=fake_runner,
        slurm={"cpus_per_task": 1, "time_min": 5},
    )
    result = run_matrix(spec, Console(file=io.StringIO()), slurm_cluster="local", poll_s=0.2)
    ok, bad = (result.entries[run.task.run_id] for run in result.runs)
    assert (ok.status, ok.launcher) == ("done", "slurm") and ok.job_id
    assert (bad.status, bad.failure) == ("failed", "non-finite loss at step 3")
    assert read_record(result.runs[0].task.run_dir).hardware["threads"] == "1"
    assert RunIndex(tmp_path).read()[ok.run_id].job_id == ok.job_id
    assert list((tmp_path / ".matrix" / "slurm").glob("*_result.pkl"))
