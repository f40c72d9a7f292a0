"""SLURM launcher through submitit: one job array for the matrix, one array task per run.

Each array task calls ``execute_task`` on the compute node, so the run's index entry is
written from there. On preemption or time-out submitit requeues the task with
``--resume`` added (SlurmRunJob.checkpoint). ``dry_run_script`` prints the sbatch script
and the run each array task executes without submitting anything.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import submitit
from submitit.helpers import Checkpointable, DelayedSubmission

from bench.matrix.execute import Outcome, RunTask, execute_task
from bench.matrix.index import RunIndex
from bench.matrix.spec import SlurmResources


class SlurmRunJob(Checkpointable):
    """The callable each array task runs: execute one RunTask."""

    def __call__(self, task: RunTask) -> Outcome:
        return execute_task(task)

    def checkpoint(self, task: RunTask) -> DelayedSubmission:
        """Requeue the same run, resuming from its last checkpoint."""
        return DelayedSubmission(self, with_resume(task))


def with_resume(task: RunTask) -> RunTask:
    """The same task with ``--resume`` on its command line."""
    argv = task.argv if "--resume" in task.argv else (*task.argv, "--resume")
    return replace(task, argv=argv, resume=True)


def sbatch_parameters(resources: SlurmResources, name: str) -> dict[str, Any]:
    """submitit's SLURM parameters (sbatch option names) for ``resources``."""
    params: dict[str, Any] = {
        "job_name": name,
        "time": resources.time_min,
        "nodes": resources.nodes,
        "ntasks_per_node": 1,
        "cpus_per_task": resources.cpus_per_task,
        "array_parallelism": resources.array_parallelism,
    }
    optional = {
        "partition": resources.partition,
        "account": resources.account,
        "qos": resources.qos,
        "constraint": resources.constraint,
        "gpus_per_node": resources.gpus_per_node or None,
        "mem": None if resources.mem_gb is None else f"{int(resources.mem_gb * 1024)}MB",
        "setup": list(resources.setup) or None,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    return params


def make_executor(
    folder: str | Path, resources: SlurmResources, name: str, cluster: str | None = "slurm"
) -> submitit.AutoExecutor:
    """A submitit executor for ``resources``. ``cluster="local"`` or ``"debug"`` runs the
    same submissions on this machine (tests); SLURM-only options are then ignored."""
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params = sbatch_parameters(resources, name)
    executor.update_parameters(
        timeout_min=resources.time_min,
        **{f"slurm_{key}": value for key, value in params.items()},
    )
    return executor


def submit(executor: submitit.Executor, tasks: list[RunTask]) -> list[submitit.Job]:
    """Submit ``tasks`` as one job array; marks each run's index entry with its job id."""
    jobs = executor.map_array(SlurmRunJob(), tasks)
    for task, job in zip(tasks, jobs, strict=True):
        RunIndex(task.results).update(task.run_id, job_id=str(job.job_id), launcher="slurm")
    return jobs


def wait(
    jobs: list[submitit.Job],
    tasks: list[RunTask],
    on_tick: Callable[[], None],
    poll_s: float = 5.0,
) -> list[Outcome]:
    """Poll until every job ended; a job that died without recording (time-out, node
    failure, cancelled) is marked failed in the index with submitit's reason."""
    while not all(job.done() for job in jobs):
        on_tick()
        time.sleep(poll_s)
    outcomes = []
    for task, job in zip(tasks, jobs, strict=True):
        try:
            outcomes.append(job.result())
        except Exception as exc:  # submitit re-raises whatever killed the job
            reason = f"job {job.job_id}: {str(exc).strip().splitlines()[-1][:300]}"
            RunIndex(task.results).update(task.run_id, status="failed", failure=reason)
            outcomes.append(Outcome(task.run_id, "failed", reason))
    on_tick()
    return outcomes


def dry_run_script(
    tasks: list[RunTask], resources: SlurmResources, folder: str | Path, name: str
) -> str:
    """The sbatch script submitit would submit for ``tasks`` plus, as comments, the
    command each array task runs."""
    from submitit.slurm.slurm import _make_sbatch_string  # submitit's own script writer

    params = sbatch_parameters(resources, name)
    command = f"{shlex.quote(sys.executable)} -u -m submitit.core._submit"
    script = _make_sbatch_string(
        command=f"{command} {shlex.quote(str(folder))}",
        folder=str(folder),
        map_count=len(tasks),
        **params,
    )
    lines = [script.rstrip("\n"), "", "# array tasks (SLURM_ARRAY_TASK_ID: run)"]
    for i, task in enumerate(tasks):
        lines.append(f"# {i}: OMP_NUM_THREADS={task.threads} {shlex.join(task.argv)}")
    return "\n".join(lines) + "\n"
