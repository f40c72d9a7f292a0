"""ci-check: tolerance logic and the readable diff, on synthetic metrics."""

from __future__ import annotations

import json

import pytest

from bench.ci_check import (
    Check,
    Tolerance,
    compare,
    format_report,
    load_baseline,
    write_baseline,
)
from bench.errors import ConfigError
from bench.matrix import spec_from_dict

TOL = {
    "energy_mae_mev": Tolerance(rel=0.02, abs=0.1),
    "force_mae_mev_per_a": Tolerance(rel=0.0, abs=1.0),
}
BASE = {"schnet/dens": {"test/energy_mae_mev": 100.0, "test/force_mae_mev_per_a": 50.0}}


def test_tolerance_is_abs_plus_rel_of_the_baseline():
    assert Tolerance(rel=0.02, abs=0.1).bound(-100.0) == pytest.approx(2.1)
    with pytest.raises(ValueError, match="rel=-0.1"):
        Tolerance(rel=-0.1, abs=0.0)


@pytest.mark.parametrize(
    "energy, force, problems",
    [
        (102.1, 51.0, [None, None]),  # exactly at both bounds
        (97.9, 49.0, [None, None]),
        (102.2, 50.0, ["outside tolerance", None]),
        (100.0, 51.01, [None, "outside tolerance"]),
        (float("nan"), 50.0, ["outside tolerance", None]),
    ],
)
def test_each_metric_against_its_tolerance(energy, force, problems):
    current = {"schnet/dens": {"test/energy_mae_mev": energy, "test/force_mae_mev_per_a": force}}
    checks = compare(BASE, current, TOL, {})
    assert [c.metric for c in checks] == ["test/energy_mae_mev", "test/force_mae_mev_per_a"]
    assert [c.problem for c in checks] == problems


def test_failed_missing_and_new_runs_fail_the_check():
    base = {**BASE, "escn/none": {"test/energy_mae_mev": 1.0}}
    current = {"equiformer/dens": {"test/energy_mae_mev": 1.0}, "escn/none": {}}
    checks = compare(base, current, TOL, {"schnet/dens": "non-finite loss at step 3"})
    problems = {(c.run, c.problem) for c in checks}
    assert problems == {
        ("equiformer/dens", "not in the baseline (--update-baseline)"),
        ("escn/none", "missing from the run record"),
        ("schnet/dens", "run failed: non-finite loss at step 3"),
    }


def test_report_shows_the_failing_values_and_their_change():
    checks = [
        Check("schnet/dens", "test/energy_mae_mev", 100.0, 110.0, 2.1, "outside tolerance"),
        Check("schnet/dens", "test/force_mae_mev_per_a", 50.0, 50.5, 1.0),
    ]
    text = format_report(checks, "base.json")
    lines = text.splitlines()
    assert lines[0] == "ci-check: 1 of 2 checks within tolerance of base.json; 1 FAILED:"
    assert lines[1].split() == [
        "run",
        "metric",
        "baseline",
        "current",
        "change",
        "allowed",
        "problem",
    ]
    assert lines[3].split() == [
        "schnet/dens",
        "test/energy_mae_mev",
        "100",
        "110",
        "+10",
        "(+10.00%)",
        "±2.1",
        "outside",
        "tolerance",
    ]
    assert len(lines) == 4  # passing checks are not listed
    assert format_report(checks[1:], "b") == "ci-check: 1 of 1 checks within tolerance of b\n"


def test_baseline_round_trip_records_how_it_was_produced(tmp_path):
    spec = spec_from_dict(
        {
            "backbones": "schnet",
            "methods": "none,dens",
            "datasets": "rmd17",
            "molecules": "ethanol",
            "max_steps": 20,
            "threads": 1,
        }
    )
    path = write_baseline(tmp_path / "b.json", spec, BASE, TOL)
    data = load_baseline(path)
    assert data["runs"] == BASE and data["tolerances"] == TOL
    produced = data["produced_by"]
    assert {"command", "git_revision", "date", "versions", "cpu", "threads_per_run"} <= set(
        produced
    )
    assert produced["threads_per_run"] == 1 and "torch" in produced["versions"]
    assert data["matrix"]["methods"] == ["none", "dens"] and data["matrix"]["max_steps"] == 20


def test_bad_baselines_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="update-baseline"):
        load_baseline(tmp_path / "none.json")
    path = tmp_path / "b.json"
    path.write_text(
        json.dumps(
            {
                "runs": {},
                "matrix": {},
                "produced_by": {},
                "tolerances": {"energy_mae_mev": {"rel": 0.1}},
            }
        )
    )
    with pytest.raises(ConfigError, match="tolerances"):
        load_baseline(path)


def test_another_matrix_or_cpu_is_said_before_the_diff(tmp_path):
    from bench.ci_check import _against, matrix_settings

    spec = spec_from_dict(
        {
            "backbones": "schnet",
            "methods": "dens",
            "datasets": "rmd17",
            "max_steps": 20,
            "threads": 1,
        }
    )
    base = {
        "matrix": {**matrix_settings(spec), "max_steps": 10},
        "tolerances": TOL,
        "produced_by": {"cpu": "Some Other CPU"},
        "runs": BASE,
    }
    outcome = _against(base, "b.json", spec, BASE, {})
    lines = outcome.text.splitlines()
    assert not outcome.ok
    assert lines[0].startswith("note: the baseline was produced on 'Some Other CPU'")
    assert lines[1].startswith(
        "ci-check: the baseline was produced with another matrix (max_steps differ)"
    )
    assert lines[2] == "ci-check: 2 of 2 checks within tolerance of b.json"
