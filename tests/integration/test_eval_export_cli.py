"""`bench run --config`, progress, `bench eval --path`, `bench export`, `bench report --plot`
as subprocesses on the shipped rMD17 ethanol subset (one tiny SchNet run shared)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from bench.data.rmd17 import read_rmd17_file

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One SchNet run from a config file: the warm-up (5 of 10 epochs) cannot fit 8 steps
    (2 epochs), --set goes on top of the file, a CSV copy of the log."""
    tmp = tmp_path_factory.mktemp("own")
    config = tmp / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"backbone": "schnet"},
                "method": {"name": "none"},
                "data": {"name": "rmd17", "molecule": "ethanol", "data_root": str(DATA)},
                "seed": 5,
                "train": {"epochs": 10, "warmup_epochs": 5, "lr": 1.0e-3, "log_every": 2},
            }
        )
    )
    proc = _bench(
        "run",
        "--config",
        str(config),
        "--max-steps",
        "8",
        "--set",
        "train.lr=2e-3",
        "--results",
        str(tmp / "results"),
        "--log",
        "csv",
    )
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1]), proc.stderr, tmp


def test_run_from_a_config_file_shows_progress_and_keeps_the_best_weights(run):
    run_dir, stderr, _ = run
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (cfg["seed"], cfg["train"]["lr"], cfg["train"]["max_steps"]) == (5, 2e-3, 8)
    assert "data: train 16, val 8, test 16 structures" in stderr
    assert "parameters; normalisation: energy mean" in stderr
    assert "warning: train.warmup_epochs 5 does not fit a run of 2 epochs" in stderr
    plain = [ln for ln in stderr.splitlines() if ln.startswith("train step")]
    assert [ln.split()[2] for ln in plain if " val " not in ln] == ["2/8", "4/8", "6/8", "8/8"]
    assert all("structures/s ETA" in ln and " lr " in ln for ln in plain if " val " not in ln)
    log = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    val = [d for d in log if d["split"] == "val"]
    assert [d["step"] for d in val] == [4, 8]
    lrs = [d["lr"] for d in log if d["split"] == "train"]
    # rescaled warm-up (1 of the 2 epochs, per step) reaches 2e-3 within epoch 0; the
    # configured one (5 epochs, per epoch) would give [1e-6, 1e-6, 4e-4, 4e-4]
    assert lrs[0] < lrs[1] and lrs[1] > 1e-3
    best = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)
    final = torch.load(run_dir / "checkpoints" / "model.pt", weights_only=True)
    best_step = min(val, key=lambda d: d["force_mae_mev_per_a"])["step"]
    same = all(torch.equal(best[k], final[k]) for k in final)
    assert same == (best_step == 8)
    rows = (run_dir / "log.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,split,name,value"
    assert sum(r.startswith("8,") and ",val,force_mae_mev_per_a," in r for r in rows) == 1


def test_config_file_with_an_unknown_key_exits_2_naming_file_and_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("model: {backbone: schnet}\ntrain: {lrr: 1}\n")
    proc = _bench(
        "run",
        "--config",
        str(config),
        "--method",
        "none",
        "--dataset",
        "rmd17",
        "--results",
        str(tmp_path / "results"),
    )
    assert proc.returncode == 2
    assert str(config) in proc.stderr and "'lrr'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


def _extxyz(path: Path, n: int = 6) -> list[Atoms]:
    frames = []
    for s in read_rmd17_file(DATA / "rmd17" / "rmd17_ethanol_test_01.npz", "ethanol", "revised")[
        :n
    ]:
        atoms = Atoms(numbers=s.z, positions=s.pos)
        atoms.calc = SinglePointCalculator(atoms, energy=s.energy, forces=s.forces)
        frames.append(atoms)
    write(path, frames, format="extxyz")
    return frames


def test_eval_on_a_file_then_export_and_plot(run, tmp_path):
    run_dir, _, _ = run
    frames = _extxyz(tmp_path / "frames.extxyz")
    proc = _bench(
        "eval",
        "--run",
        str(run_dir),
        "--path",
        str(tmp_path / "frames.extxyz"),
        "--output",
        str(tmp_path / "pred.extxyz"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)["metrics"]
    out = read(tmp_path / "pred.extxyz", index=":")
    e_err = np.array(
        [a.info["pred_energy"] - f.get_potential_energy() for a, f in zip(out, frames, strict=True)]
    )
    f_err = np.concatenate(
        [a.arrays["pred_forces"] - f.get_forces() for a, f in zip(out, frames, strict=True)]
    )
    assert metrics["n_structures"] == 6
    assert metrics["energy_mae_mev"] == pytest.approx(1000 * np.abs(e_err).mean(), rel=1e-6)
    assert metrics["energy_rmse_mev"] == pytest.approx(1000 * np.sqrt((e_err**2).mean()), rel=1e-6)
    assert metrics["energy_mae_per_atom_mev"] == pytest.approx(metrics["energy_mae_mev"] / 9)
    assert metrics["force_mae_mev_per_a"] == pytest.approx(1000 * np.abs(f_err).mean(), rel=1e-5)
    assert -1.0 <= metrics["force_cos"] <= 1.0
    with np.load(run_dir / "predictions.npz") as p:
        assert p["forces_pred"].shape == (54, 3) and str(p["source"]).endswith("frames.extxyz")

    model = tmp_path / "elsewhere" / "model.pt"
    assert _bench("export", "--run", str(run_dir), "--output", str(model)).returncode == 0
    payload = torch.load(model, weights_only=True)
    assert payload["config"]["model"]["backbone"] == "schnet" and payload["bench_version"]
    again = _bench(
        "eval",
        "--run",
        "model.pt",
        "--path",
        str(tmp_path / "frames.extxyz"),
        "--json",
        cwd=model.parent,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["metrics"] == metrics

    figure = tmp_path / "parity.png"
    plot = _bench(
        "report", "--results", str(run_dir.parent), "--plot", "parity", "--output", str(figure)
    )
    assert plot.returncode == 0, plot.stderr
    assert _png_dpi(figure) == pytest.approx(300, abs=1)


def _png_dpi(path: Path) -> float:
    """Horizontal resolution from the PNG pHYs chunk (pixels per metre -> dots per inch)."""
    data = path.read_bytes()
    at = data.index(b"pHYs")
    per_metre = struct.unpack(">I", data[at + 4 : at + 8])[0]
    return per_metre * 0.0254
