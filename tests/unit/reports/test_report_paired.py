"""`bench report --paired`: per-arm mean ± std, paired contrasts over seeds, plateau check."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.reports import load_runs
from bench.reports.paired import arms_frame, contrasts_frame, paired_t, plateau, pooled_frame

TEMPLATE = Path(__file__).resolve().parents[2] / "data" / "results_fixture" / "schnet"
TEMPLATE = TEMPLATE / "ethanol-dens-n16"


def _run(
    root: Path,
    method: str,
    seed: int,
    force: float,
    n_train: int = 16,
    val=None,
    molecule: str | None = None,
    network: dict | None = None,
    options: dict | None = None,
) -> None:
    """A finished run directory made from the fixture record, with ``method``, ``seed``, test
    force MAE ``force`` (meV/A), when given validation force MAEs ``val`` (epoch 1, 2, ...),
    ``network``: architecture keys changed from the preset (``network_overrides``), and
    ``options``: resolved architecture keys the preset chose."""
    name = f"{method}-s{seed}-n{n_train}" + (f"-{molecule}" if molecule else "")
    name += "".join(f"-{k}{v}" for k, v in {**(network or {}), **(options or {})}.items())
    run_dir = root / name
    shutil.copytree(TEMPLATE, run_dir)
    record = json.loads((run_dir / "metrics.json").read_text())
    record.update(run_id=name, seed=seed)
    record["config"].update(run_id=name, seed=seed)
    record["config"]["method"]["name"] = method
    if molecule is not None:
        record["config"]["data"]["molecule"] = molecule
    record["scale"]["n_train"] = n_train
    if network is not None:
        record["scale"]["network_overrides"] = network
        record["config"]["model"]["options"].update(network)
    record["config"]["model"]["options"].update(options or {})
    record["metrics"]["test"] = {"force_mae_mev_per_a": force, "energy_mae_mev": force / 10}
    (run_dir / "metrics.json").write_text(json.dumps(record))
    if val is not None:
        lines = [
            {"step": 10 * e, "epoch": float(e), "split": "val", "force_mae_mev_per_a": v}
            for e, v in enumerate(val, start=1)
        ]
        (run_dir / "log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def _paired_cli(results: Path) -> str:
    """stdout of ``bench report --paired --results RESULTS`` (exit 0 required)."""
    cmd = [sys.executable, "-c", "from bench.cli import main; main()"]
    return subprocess.run(
        [*cmd, "report", "--paired", "--results", str(results)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_paired_t_interval_and_p_value():
    result = paired_t([-1.0, -2.0, -3.0])
    assert result.mean == pytest.approx(-2.0)
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n), sd = 1
    assert (result.low, result.high) == pytest.approx((-2.0 - half, -2.0 + half))
    t = 2.0 * math.sqrt(3)
    assert result.p == pytest.approx(1 - t / math.sqrt(2 + t * t))  # closed form for 2 dof
    assert result.verdict == "within seed spread"
    assert paired_t([-5.0, -5.1, -4.9]).verdict == "arm better (CI < 0)"
    assert paired_t([1.0]).verdict == "too few pairs"


def test_contrasts_pair_runs_by_seed_not_by_rank(tmp_path):
    for seed, force in ((0, 10.0), (1, 20.0), (2, 30.0)):
        _run(tmp_path, "none", seed, force)
    for seed, force in ((0, 29.0), (1, 8.0), (2, 19.0), (3, 1.0)):  # seed 3 has no pair
        _run(tmp_path, "dens", seed, force)
    rows = contrasts_frame(load_runs(tmp_path))
    row = rows[rows["contrast"] == "dens - none"].iloc[0]
    assert row["seeds"] == "0,1,2"
    assert row["per-seed differences"] == "+19.00, -12.00, -11.00"
    assert row["mean difference"] == "-1.33"


def test_runs_of_other_training_sizes_are_not_paired(tmp_path):
    _run(tmp_path, "none", 0, 10.0, n_train=16)
    _run(tmp_path, "dens", 0, 5.0, n_train=64)
    assert contrasts_frame(load_runs(tmp_path)).empty
    arms = arms_frame(load_runs(tmp_path))
    assert sorted(arms["group"].str.contains("n_train 64")) == [False, True]


def test_runs_of_another_network_on_the_same_preset_are_not_paired(tmp_path):
    _run(tmp_path, "none", 0, 10.0)
    _run(tmp_path, "dens", 0, 5.0, network={"hidden_channels": 32})
    _run(tmp_path, "none", 0, 9.0, network={"hidden_channels": 32})
    rows = contrasts_frame(load_runs(tmp_path))
    assert list(rows["contrast"]) == ["dens - none"]
    assert "preset ci (hidden_channels=32), 3 epochs" in rows["group"].iloc[0]
    assert rows["mean difference"].iloc[0] == "-4.00"


def test_runs_of_another_weight_init_are_not_paired_and_old_records_read_normal(tmp_path):
    """A record without ``weight_init`` was built before the key, with normal weights."""
    _run(tmp_path, "none", 0, 10.0)
    _run(tmp_path, "dens", 0, 5.0, options={"weight_init": "normal"})
    _run(tmp_path, "none", 0, 9.0, options={"weight_init": "uniform"})
    _run(tmp_path, "dens", 0, 8.0, options={"weight_init": "uniform"})
    rows = contrasts_frame(load_runs(tmp_path))
    assert list(rows["mean difference"]) == ["-5.00", "-1.00"]
    assert ["weight_init=uniform" in g for g in rows["group"]] == [False, True]


def test_two_runs_of_one_arm_and_seed_are_refused_not_mixed(tmp_path):
    _run(tmp_path, "none", 0, 10.0)
    _run(tmp_path, "dens", 0, 5.0)
    (tmp_path / "dens-s0-n16").rename(tmp_path / "dens-other")
    _run(tmp_path, "dens", 0, 7.0)  # another run dir of the same group, arm and seed
    with pytest.raises(ConfigError, match="dens seed 0 of group .* has 2 runs"):
        contrasts_frame(load_runs(tmp_path))
    with pytest.raises(ConfigError, match="dens-other"):
        arms_frame(load_runs(tmp_path))


def test_plateau_criterion_on_the_last_fifth_of_training(tmp_path):
    _run(tmp_path, "none", 0, 10.0, val=[100, 60, 50, 49.5, 49.4, 49.3, 49.3, 49.2, 49.2, 49.1])
    _run(tmp_path, "none", 1, 10.0, val=[100, 80, 70, 65, 60, 58, 56, 54, 50, 45])
    _run(tmp_path, "none", 2, 10.0, val=[100, 80])
    by_seed = {run.record.seed: plateau(run) for run in load_runs(tmp_path)}
    assert by_seed == {0: True, 1: False, 2: None}
    arms = arms_frame(load_runs(tmp_path))
    assert arms["plateaued"].tolist() == ["1/3"]
    assert arms["force MAE (meV/Å)"].tolist() == ["10.00 ± 0.00"]


def test_cli_prints_arms_and_contrasts(tmp_path):
    for seed in (0, 1):
        _run(tmp_path, "none", seed, 10.0 + seed)
        _run(tmp_path, "denoise-no-force", seed, 9.0 + seed)
        _run(tmp_path, "dens", seed, 8.0 + 2 * seed)
    out = _paired_cli(tmp_path)
    assert "dens - denoise-no-force" in out and "too few pairs" not in out
    assert "-1.00, -1.00" in out  # denoise-no-force - none, seeds 0 and 1
    assert "-2.00, -1.00" in out  # dens - none


def test_cli_says_when_nothing_is_paired_yet(tmp_path):
    _run(tmp_path, "none", 0, 10.0)
    out = _paired_cli(tmp_path)
    assert out.count("no arm has a reference run of the same seed yet") == 2
    assert "10.00" in out  # the arm itself is still listed


def test_pooled_contrasts_take_every_group_of_one_scale_in_percent(tmp_path):
    # ethanol: dens is 10% better in both seeds; aspirin: 20% and 10% better
    for seed, none, dens in ((0, 10.0, 9.0), (1, 20.0, 18.0)):
        _run(tmp_path, "none", seed, none, molecule="ethanol")
        _run(tmp_path, "dens", seed, dens, molecule="ethanol")
    for seed, none, dens in ((0, 100.0, 80.0), (1, 50.0, 45.0)):
        _run(tmp_path, "none", seed, none, molecule="aspirin")
        _run(tmp_path, "dens", seed, dens, molecule="aspirin")
    _run(tmp_path, "none", 0, 10.0, n_train=64, molecule="ethanol")  # another scale:
    _run(tmp_path, "dens", 0, 30.0, n_train=64, molecule="ethanol")  # its own row
    rows = pooled_frame(load_runs(tmp_path))
    assert len(rows) == 2
    small = rows[rows["scale"].str.contains("16")].iloc[0]
    assert (small["contrast"], small["pairs"]) == ("dens - none", 4)
    assert small["mean relative difference (%)"] == "-12.5"  # mean of -10, -10, -20, -10
    assert "aspirin" in small["groups"] and "ethanol" in small["groups"]
    assert "scale" not in small["groups"]
    half = 3.182446305284263 * 5.0 / 2.0  # t(0.975, 3) * sd / sqrt(4), sd = 5
    assert small["95% CI (%)"] == f"[{-12.5 - half:+.1f}, {-12.5 + half:+.1f}]"
    large = rows[~rows["scale"].str.contains("16")].iloc[0]
    assert (large["pairs"], large["mean relative difference (%)"]) == (1, "+200.0")
    assert large["verdict"] == "too few pairs"
    assert "Pooled over the groups of one scale" in _paired_cli(tmp_path)
