"""Run a matrix: expand the grid, decide skip/resume/fresh per run, launch, report.

Matrices may share a results folder: every run is launched with ``--resume`` (so a run
another worker started or finished meanwhile continues, or is returned as done, instead of
clashing), runs locked by another worker are skipped, and the initial index entries leave
other workers' ``running`` entries alone.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.matrix import local, slurm
from bench.matrix.command import default_runner, run_args, torchrun_argv
from bench.matrix.execute import MATRIX_DIR, SKIP_DONE, Outcome, RunTask, config_sha256
from bench.matrix.grid import GridPoint, expand
from bench.matrix.index import IndexEntry, RunIndex
from bench.matrix.plan import Decision, decide
from bench.matrix.resolve import expected_config
from bench.matrix.spec import MatrixSpec, validate_names
from bench.matrix.table import StateTable

#: point -> the resolved config (location keys removed) ``bench run`` will write for it
Resolver = Callable[[GridPoint], dict[str, Any]]


@dataclass(frozen=True)
class PlannedRun:
    """One grid point, what to do with it, and the task that does it."""

    point: GridPoint
    decision: Decision
    task: RunTask


@dataclass(frozen=True)
class MatrixResult:
    """Final index entries of the matrix's runs (run_id -> entry)."""

    runs: list[PlannedRun]
    entries: dict[str, IndexEntry]

    @property
    def failed(self) -> list[IndexEntry]:
        """Runs that ended failed or interrupted (the matrix then exits 1)."""
        return [e for e in self.entries.values() if e.status in ("failed", "interrupted")]


def plan_matrix(spec: MatrixSpec, resolver: Resolver | None = None) -> list[PlannedRun]:
    """Expand ``spec`` and decide each run from its directory under ``spec.results``.

    Finished runs count only when their config.yaml equals ``resolver(point)``; by default
    that is ``bench run``'s own resolution, or no check at all under a custom ``runner``
    (whose configs this package cannot know).
    """
    if resolver is None and spec.runner is None:
        resolver = expected_config
    planned = []
    for point in expand(spec):
        run_id = point.run_id()
        expected = resolver(point) if resolver else None
        decision = decide(Path(spec.results) / run_id, expected)
        planned.append(PlannedRun(point, decision, build_task(point, spec, decision, run_id)))
    return planned


def build_task(
    point: GridPoint, spec: MatrixSpec, decision: Decision, run_id: str | None = None
) -> RunTask:
    """The command line of one run for the spec's launcher, with its thread budget
    (a SLURM job's CPUs are split over its GPUs, one torchrun process each). Always
    ``--resume`` (a no-op for a new run; see the module docstring); ``task.resume`` says
    whether the plan resumes it. ``run_id``: ``point.run_id()`` when already known."""
    run_id = run_id or point.run_id()
    results = str(Path(spec.results).resolve())
    data_root = str(Path(spec.data_root).resolve()) if spec.data_root else None
    resume = decision.action == "resume"
    args = run_args(point, results, run_id, data_root, resume=True)
    if spec.launcher == "slurm":
        nproc = spec.slurm.gpus_per_node
        threads = max(1, spec.slurm.cpus_per_task // max(1, nproc))
    else:
        nproc = spec.gpus if spec.launcher == "torchrun" else 1
        threads = spec.threads_per_run()
    if spec.launcher == "torchrun" or nproc > 1:
        argv = torchrun_argv(nproc, args)
    else:
        argv = [*(spec.runner or default_runner()), *args]
    return RunTask(run_id, tuple(argv), results, threads, resume)


def run_matrix(
    spec: MatrixSpec,
    console: Console | None = None,
    slurm_cluster: str = "slurm",
    poll_s: float = 0.5,
) -> MatrixResult:
    """Launch every unfinished run of ``spec``; failed runs do not stop the others.

    ``slurm_cluster`` picks submitit's executor ("local"/"debug" run SLURM submissions on
    this machine). Returns the final index entries of the matrix's runs.
    """
    validate_names(spec)
    planned = plan_matrix(spec)
    for run in planned:
        if run.decision.action == "replace":
            set_aside(run.task.run_dir)
    index = RunIndex(spec.results)
    initial = {p.task.run_id: _initial_entry(p, spec.launcher) for p in planned}
    index.put(initial.values(), keep=("running",))
    todo = [p.task for p in planned if p.decision.action != "skip"]
    table = StateTable({p.task.run_id: p.point.label() for p in planned}, console)
    # A run skipped here (done when planned) is shown as this matrix found it: its index
    # entry may still be another matrix's (kept "running" until that one notes its end).
    skipped = {
        p.task.run_id: initial[p.task.run_id] for p in planned if p.decision.action == "skip"
    }

    def tick() -> None:
        table.update({**index.read(), **skipped})

    with table:
        tick()
        outcomes = _launch(spec, todo, tick, slurm_cluster, poll_s) if todo else []
        tick()
    entries = index.read()
    for outcome in outcomes:
        if outcome.status == "skipped":
            line = f"{outcome.failure} {table.labels[outcome.run_id]}  ({outcome.run_id})"
            table.console.print(line, highlight=False, soft_wrap=True)
    table.console.print(table.summary(), highlight=False)
    return MatrixResult(planned, {p.task.run_id: entries[p.task.run_id] for p in planned})


def _launch(
    spec: MatrixSpec,
    todo: list[RunTask],
    tick: Callable[[], None],
    slurm_cluster: str,
    poll_s: float,
) -> list[Outcome]:
    if spec.launcher == "slurm":
        folder = Path(spec.results).resolve() / MATRIX_DIR / "slurm"
        executor = slurm.make_executor(folder, spec.slurm, "bench-matrix", slurm_cluster)
        jobs = slurm.submit(executor, todo)
        return slurm.wait(jobs, todo, tick, poll_s)
    jobs = 1 if spec.launcher == "torchrun" else spec.jobs
    return local.launch_local(todo, jobs, tick, poll_s)


def set_aside(run_dir: Path) -> Path:
    """Rename a superseded run directory to ``<id>.superseded-<UTC time>`` (kept, with its
    record, for whoever wants it) so the run can start afresh under its id."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return run_dir.rename(run_dir.with_name(f"{run_dir.name}.superseded-{stamp}"))


def _initial_entry(run: PlannedRun, launcher: str) -> IndexEntry:
    point = run.point.identity()
    if run.decision.action == "skip":
        sha = config_sha256(run.task.run_dir)
        return IndexEntry(run.task.run_id, "done", point, sha, note=SKIP_DONE, launcher=launcher)
    note = run.decision.reason if run.decision.action in ("resume", "replace") else None
    return IndexEntry(run.task.run_id, "queued", point, note=note, launcher=launcher)


def dry_run(spec: MatrixSpec) -> str:
    """What ``run_matrix`` would do, as text: each run's decision and command line, or for
    SLURM the sbatch script of the job array. Nothing is written."""
    validate_names(spec)
    planned = plan_matrix(spec)
    lines = [
        f"# {p.decision.action:<7} {p.point.label()}  ({p.task.run_id}): {p.decision.reason}"
        for p in planned
    ]
    todo = [p.task for p in planned if p.decision.action != "skip"]
    if spec.launcher == "slurm" and todo:
        folder = Path(spec.results).resolve() / MATRIX_DIR / "slurm"
        lines.append(slurm.dry_run_script(todo, spec.slurm, folder, "bench-matrix"))
    else:
        lines += [f"OMP_NUM_THREADS={t.threads} {shlex.join(t.argv)}" for t in todo]
    return "\n".join(lines) + "\n"
