"""`bench run` and `bench eval` as subprocesses on the shipped rMD17 subset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from bench.config import RunConfig
from bench.run_request import RunRequest

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).resolve().parents[1] / "data"
RUN = RunRequest(
    "schnet",
    "dens",
    "rmd17",
    molecule="aspirin",
    data_root=str(DATA),
    seed=3,
    epochs=2,
    overrides=("data.max_structures=8",),
).argv()


def _bench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, env=env, timeout=300)


def test_run_records_everything_and_eval_reproduces_it(tmp_path):
    proc = _bench(*RUN, "--results", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path and run_dir.is_dir()
    for name in (
        "config.yaml",
        "metrics.json",
        "log.jsonl",
        "command.txt",
        "stats.json",
        "checkpoints/model.pt",
    ):
        assert (run_dir / name).is_file(), name
    cfg = RunConfig.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    assert (cfg.seed, cfg.method.name, cfg.train.epochs, cfg.data.molecule) == (
        3,
        "dens",
        2,
        "aspirin",
    )
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "done" and record["config"] == cfg.to_dict()
    assert "--molecule aspirin" in (run_dir / "command.txt").read_text()
    for split in ("val", "test"):
        assert record["metrics"][split]["energy_mae_mev"] > 0
        assert record["metrics"][split]["force_mae_mev_per_a"] > 0
    assert record["params"] > 0 and record["wall_time_s"] > 0 and record["samples_per_s"] > 0
    assert record["peak_memory_mb"] > 0 and record["steps"] == 4
    assert record["versions"]["torch"] and record["versions"]["e3nn"]
    assert record["hardware"]["device"] == "cpu"
    assert record["scale"]["preset"] == "ci" and record["scale"]["paper_scale"] is False
    assert record["scale"]["network_overrides"] == {}
    logged = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in logged if x["split"] == "train"] == [1, 2, 3, 4]
    assert [x["step"] for x in logged if x["split"] == "val"] == [2, 4]  # every epoch end
    assert (run_dir / "checkpoints" / "best.pt").is_file()
    assert "train step 4/4" in proc.stderr and "data: train 8, val 8" in proc.stderr

    again = _bench("eval", "--run", str(run_dir), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["metrics"] == record["metrics"]["test"]
    with np.load(run_dir / "predictions.npz") as p:  # what bench report --plot parity reads
        assert p["energy_pred"].shape == (record["metrics"]["test"]["n_structures"],)
        assert p["forces_pred"].shape == p["forces_true"].shape == (len(p["z"]), 3)

    clash = _bench(*RUN, "--results", str(tmp_path))
    assert clash.returncode == 2 and "--resume" in clash.stderr
    done = _bench(*RUN, "--results", str(tmp_path), "--resume")
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == str(run_dir)


def test_bad_override_exits_2_naming_the_key_and_writes_nothing(tmp_path):
    proc = _bench(*RUN, "--results", str(tmp_path), "--set", "train.lrr=1")
    assert proc.returncode == 2
    assert "lrr" in proc.stderr and "Did you mean 'lr'" in proc.stderr
    assert not any(tmp_path.iterdir())
