"""`bench ci-check`: a fixed small matrix that must learn (default; bench.ci_learning), or
with ``--exact``, whose final metrics must match a baseline.

The exact matrix: every backbone's ci preset x every method on the rMD17 ethanol subset shipped
as package data (``bench/ci_data``, copies of the tests/data files, so an installed wheel runs
it too), fixed seed and step count, one CPU thread per run (so the numbers do not
depend on how many runs share the machine). The baseline file (JSON) holds the metrics of
each run, a per-metric tolerance, the matrix it was produced with and how it was produced
(command, git revision, date, versions, CPU). A metric passes when
``|current - baseline| <= abs + rel * |baseline|``.
"""

from __future__ import annotations

import json
import math
import platform
import shlex
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from rich.console import Console
from tabulate import tabulate

from bench.errors import ConfigError
from bench.io import write_json_atomic
from bench.matrix import MatrixResult, MatrixSpec, run_matrix, spec_from_dict
from bench.records import read_record
from bench.train.provenance import cpu_model, git_revision

DEFAULT_BASELINE = Path(__file__).parent / "configs" / "ci_baseline.json"
#: the data root of the CI matrix: bench/ci_data/rmd17/ (installed with the package)
DEFAULT_DATA_ROOT = Path(str(resources.files("bench") / "ci_data"))
SPLITS = ("val", "test")

#: the fixed matrix (besides backbones and methods, which are all of the registries)
CI_SETTINGS: dict[str, Any] = {
    "datasets": ["rmd17"],
    "molecules": ["ethanol"],
    "seeds": [0],
    "preset": "ci",
    "max_steps": 20,
    "threads": 1,
}


@dataclass(frozen=True)
class Tolerance:
    """Allowed deviation of one metric: ``abs + rel * |baseline|`` (units of the metric)."""

    rel: float
    abs: float

    def __post_init__(self) -> None:
        if self.rel < 0 or self.abs < 0:
            raise ValueError(f"tolerances must be >= 0, got rel={self.rel!r} abs={self.abs!r}")

    def bound(self, baseline: float) -> float:
        return self.abs + self.rel * abs(baseline)


#: used when a new baseline file is written; an existing file keeps its own tolerances.
#: Measured on the reference CPU (AMD EPYC, torch 2.13 CPU): repeating the matrix, and
#: running it with 2 threads per run instead of 1, changed force MAEs by <= 4e-9 and energy
#: MAEs by <= 5e-7 (relative). A 1% change of the force loss weight (80 -> 79.2) moved at
#: least one metric of every schnet, segnn and equiformer run beyond these bounds (energies
#: by 0.1-3.5%, forces by up to 9e-5), while the bounds stay >= 400x above the noise.
DEFAULT_TOLERANCES = {
    "energy_mae_mev": Tolerance(rel=2e-4, abs=0.05),
    "force_mae_mev_per_a": Tolerance(rel=2e-6, abs=0.0),
}
TOLERANCE_NOTE = (
    "A metric passes when |current - baseline| <= abs + rel * |baseline|. Run-to-run and "
    "1-vs-2-thread noise measured on the reference CPU: <= 4e-9 relative on force MAE, "
    "<= 5e-7 on energy MAE; the bounds are >= 400x that, and a 1% change of the force loss "
    "weight exceeds them on every schnet, segnn and equiformer run."
)


@dataclass(frozen=True)
class Check:
    """One compared value; ``problem`` is None when it is within tolerance."""

    run: str
    metric: str
    baseline: float | None = None
    current: float | None = None
    bound: float | None = None
    problem: str | None = None


def ci_spec(
    results: str | Path,
    data_root: str | Path | None = None,
    runner: list[str] | None = None,
    jobs: int = 2,
    settings: dict[str, Any] | None = None,
) -> MatrixSpec:
    """The fixed CI matrix writing into ``results``: ``settings`` (a matrix spec dict; by
    default the exact check's, every backbone x method)."""
    from bench.backbones.registry import BACKBONES
    from bench.methods import METHODS

    if settings is None:
        settings = dict(CI_SETTINGS, backbones=sorted(BACKBONES), methods=list(METHODS))
    settings = dict(settings)
    settings.update(
        results=str(results),
        jobs=jobs,
        launcher="local",
        data_root=str(data_root or DEFAULT_DATA_ROOT),
    )
    if runner:
        settings["runner"] = list(runner)
    return spec_from_dict(settings, "ci-check")


def collect(
    result: MatrixResult, tolerances: dict[str, Tolerance]
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """(label -> {"split/metric": value}, label -> failure) for the matrix's runs."""
    metrics, failures = {}, {}
    for run in result.runs:
        label, entry = run.point.label(), result.entries[run.task.run_id]
        if entry.status != "done":
            failures[label] = entry.failure or entry.status
            continue
        record = read_record(run.task.run_dir)
        metrics[label] = {
            f"{split}/{name}": float(value)
            for split in SPLITS
            for name, value in record.metrics.get(split, {}).items()
            if name in tolerances
        }
    return metrics, failures


def compare(
    baseline: dict[str, dict[str, float]],
    current: dict[str, dict[str, float]],
    tolerances: dict[str, Tolerance],
    failures: dict[str, str],
) -> list[Check]:
    """Every baseline metric of every run against the current one."""
    checks = []
    for run in sorted(set(baseline) | set(current) | set(failures)):
        if run in failures:
            checks.append(Check(run, "-", problem=f"run failed: {failures[run]}"))
        elif run not in baseline:
            checks.append(Check(run, "-", problem="not in the baseline (--update-baseline)"))
        elif run not in current:
            checks.append(Check(run, "-", problem="in the baseline but not run"))
        else:
            checks += [
                _check(run, m, v, current[run].get(m), tolerances)
                for m, v in sorted(baseline[run].items())
            ]
    return checks


def _check(
    run: str, metric: str, base: float, cur: float | None, tolerances: dict[str, Tolerance]
) -> Check:
    tol = tolerances.get(metric.split("/", 1)[-1])
    if tol is None:
        return Check(run, metric, base, cur, problem="no tolerance for this metric")
    bound = tol.bound(base)
    if cur is None:
        return Check(run, metric, base, None, bound, "missing from the run record")
    if not math.isfinite(cur) or abs(cur - base) > bound:
        return Check(run, metric, base, cur, bound, "outside tolerance")
    return Check(run, metric, base, cur, bound)


def format_report(checks: list[Check], baseline_path: str | Path) -> str:
    """A readable diff: one summary line, then a table of every failing check."""
    bad = [c for c in checks if c.problem]
    head = (
        f"ci-check: {len(checks) - len(bad)} of {len(checks)} checks within tolerance "
        f"of {baseline_path}"
    )
    if not bad:
        return head + "\n"
    rows = [
        [
            c.run,
            c.metric,
            _num(c.baseline),
            _num(c.current),
            _change(c),
            "" if c.bound is None else f"±{c.bound:.4g}",
            c.problem,
        ]
        for c in bad
    ]
    table = tabulate(
        rows,
        headers=["run", "metric", "baseline", "current", "change", "allowed", "problem"],
        disable_numparse=True,
    )
    return f"{head}; {len(bad)} FAILED:\n{table}\n"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def _change(c: Check) -> str:
    if c.baseline is None or c.current is None:
        return "-"
    delta = c.current - c.baseline
    rel = f" ({100 * delta / c.baseline:+.2f}%)" if c.baseline else ""
    return f"{delta:+.4g}{rel}"


def load_baseline(path: str | Path) -> dict[str, Any]:
    """The baseline file as a dict, with ``tolerances`` as Tolerance objects."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no baseline (create one with --update-baseline)") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    missing = {"tolerances", "runs", "matrix", "produced_by"} - set(data)
    if missing:
        raise ConfigError(f"{path}: baseline lacks {sorted(missing)}")
    try:
        data["tolerances"] = {k: Tolerance(**v) for k, v in data["tolerances"].items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: field 'tolerances': {exc}") from exc
    return data


def write_baseline(
    path: str | Path,
    spec: MatrixSpec,
    metrics: dict[str, dict[str, float]],
    tolerances: dict[str, Tolerance],
) -> Path:
    """Write the baseline with its provenance."""
    return write_json_atomic(
        path,
        {
            "about": "Final metrics of the `bench ci-check` matrix; regenerate with "
            "`bench ci-check --update-baseline` on the reference CPU.",
            "produced_by": provenance(spec),
            "matrix": matrix_settings(spec),
            "tolerances": {k: asdict(v) for k, v in sorted(tolerances.items())},
            "tolerance_note": TOLERANCE_NOTE,
            "runs": metrics,
        },
    )


def matrix_settings(spec: MatrixSpec) -> dict[str, Any]:
    """What defines the CI matrix's numbers (compared with the baseline's)."""
    return {
        "backbones": list(spec.backbones),
        "methods": list(spec.methods),
        "datasets": list(spec.datasets),
        "molecules": list(spec.molecules),
        "seeds": list(spec.seeds),
        "preset": spec.preset,
        "max_steps": spec.max_steps,
        "threads_per_run": spec.threads_per_run(),
        "overrides": dict(spec.overrides),
    }


def provenance(spec: MatrixSpec) -> dict[str, Any]:
    """Command, git revision, date, package versions and CPU of this process."""
    versions = {"python": platform.python_version()}
    for dist in ("torch", "e3nn", "torch-geometric", "numpy", "dens-bench"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {
        "command": shlex.join(["bench", *sys.argv[1:]]),
        "git_revision": git_revision(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions,
        "cpu": cpu_model(),
        "threads_per_run": spec.threads_per_run(),
        "jobs": spec.jobs,
    }


@dataclass(frozen=True)
class CiOutcome:
    """Whether the check passed, and the report to print."""

    ok: bool
    text: str


def run_ci_check(
    baseline: str | Path = DEFAULT_BASELINE,
    update: bool = False,
    results: str | Path | None = None,
    data_root: str | Path | None = None,
    runner: list[str] | None = None,
    console: Console | None = None,
    jobs: int = 2,
    exact: bool = False,
) -> CiOutcome:
    """Run the learning check, or with ``exact`` (implied by ``update``) the CI matrix
    compared with, or with ``update`` rewriting, ``baseline``; in a temporary results
    directory unless ``results`` is given, kept when the check fails."""
    tmp = None if results else tempfile.mkdtemp(prefix="bench-ci-check-")
    if exact or update:
        outcome = _exact(baseline, update, results or tmp, data_root, runner, console, jobs)
    else:
        outcome = _learning(results or tmp, data_root, runner, console, jobs)
    if tmp and outcome.ok:
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp:
        outcome = CiOutcome(False, outcome.text + f"run directories and logs kept in {tmp}\n")
    return outcome


def _learning(
    results: str | Path,
    data_root: str | Path | None,
    runner: list[str] | None,
    console: Console | None,
    jobs: int,
) -> CiOutcome:
    """bench.ci_learning: every run of the learning grid (one matrix per backbone, for its
    steps and learning rate) must lower its loss and force MAE."""
    from bench.ci_learning import judge, matrices, read_log, report, settings

    data = settings()
    judged, failures = [], {}
    for matrix in matrices(data):
        result = run_matrix(ci_spec(results, data_root, runner, jobs, matrix), console)
        for run in result.runs:
            label, entry = run.point.label(), result.entries[run.task.run_id]
            if entry.status != "done":
                failures[label] = entry.failure or entry.status
            else:
                judged += judge(label, read_log(run.task.run_dir), data["factors"])
    ok = not failures and all(j.problem is None for j in judged)
    return CiOutcome(ok, report(judged, failures, data["factors"]))


def _exact(
    baseline: str | Path,
    update: bool,
    results: str | Path,
    data_root: str | Path | None,
    runner: list[str] | None,
    console: Console | None,
    jobs: int,
) -> CiOutcome:
    """The exact matrix against (or, with ``update``, written to) ``baseline``."""
    if Path(baseline).exists() or not update:
        tolerances = load_baseline(baseline)["tolerances"]
    else:
        tolerances = dict(DEFAULT_TOLERANCES)
    spec = ci_spec(results, data_root, runner, jobs)
    metrics, failures = collect(run_matrix(spec, console), tolerances)
    if update and not failures:
        write_baseline(baseline, spec, metrics, tolerances)
        return CiOutcome(True, f"ci-check: wrote {baseline} ({len(metrics)} runs)\n")
    if update:
        checks = compare({}, {}, tolerances, failures)
        return CiOutcome(
            False, "ci-check: baseline NOT updated\n" + format_report(checks, baseline)
        )
    return _against(load_baseline(baseline), baseline, spec, metrics, failures)


def _against(
    base: dict[str, Any],
    path: str | Path,
    spec: MatrixSpec,
    metrics: dict[str, dict[str, float]],
    failures: dict[str, str],
) -> CiOutcome:
    settings = matrix_settings(spec)
    changed = sorted(k for k in settings if base["matrix"].get(k) != settings[k])
    checks = compare(base["runs"], metrics, base["tolerances"], failures)
    text = format_report(checks, path)
    if changed:
        text = (
            f"ci-check: the baseline was produced with another matrix ({', '.join(changed)}"
            f" differ); regenerate it with --update-baseline\n" + text
        )
    cpu = base["produced_by"].get("cpu")
    if cpu != cpu_model():
        text = (
            f"note: the baseline was produced on {cpu!r}, this CPU is {cpu_model()!r}: "
            "small deviations may be float noise\n" + text
        )
    return CiOutcome(not changed and all(c.problem is None for c in checks), text)
