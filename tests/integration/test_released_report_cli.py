"""A released checkpoint evaluated here reaches the paper tables: `bench import` (the DeNS
fixture, named as the release names its 12-epoch OC20 S2EF-2M checkpoint), `bench eval` on a
four-sub-split OC20 validation set built from the shipped frames, then `bench report` shows the
run on its own "evaluated from released checkpoint" line of Table 1d with the measured numbers;
an imported run that was never evaluated shows nowhere."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).parents[1] / "data"
FIXTURE = DATA / "parity" / "fairchem_eq2_dens.pt"
TRAJ = DATA / "oc20_relax" / "random1000156.traj"
#: LMDB folder -> frame of the shipped trajectory (one structure per OC20 val sub-split)
LAYOUT = {"train": 0, "val_id": 1, "val_ood_ads": 2, "val_ood_cat": 3, "val_ood_both": 4}


def _bench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, env=env, timeout=300)


def _import(tmp: Path, release_name: str, run: Path) -> None:
    checkpoint = tmp / release_name
    shutil.copyfile(FIXTURE, checkpoint)
    proc = _bench(
        "import", str(checkpoint), "--from", "dens", "--output", str(run), "--dtype", "float64"
    )
    assert proc.returncode == 0, proc.stderr


def _oc20_root(tmp: Path) -> Path:
    from bench.data.ase_files import read_ase_file
    from bench.data.s2ef_lmdb import write_s2ef_lmdb

    frames = read_ase_file(TRAJ)
    for folder, index in LAYOUT.items():
        (tmp / "data" / "oc20" / folder).mkdir(parents=True)
        write_s2ef_lmdb(tmp / "data" / "oc20" / folder / "data.0000.lmdb", [frames[index]])
    return tmp / "data"


def _expected(run: Path, root: Path) -> tuple[float, float]:
    """Energy and force MAE (meV, meV/A) of the run's model on the four val structures read
    back from the LMDBs (one batch, as `bench eval` batches them), computed here from the raw
    predictions and averaged over the sub-splits as the paper does (one structure each)."""
    import torch

    from bench.data.registry import DatasetSpec, load_splits
    from bench.eval import predict
    from bench.train.setup import load_run_model, to_data_list

    model, cfg = load_run_model(run)
    val = load_splits(DatasetSpec(name="oc20", path=root / "oc20")).val
    assert len(val) == 4 <= cfg.train.eval_batch_size
    p = predict(model, to_data_list(val, cfg.dtype), len(val), torch.device("cpu"))
    energy = [1000 * abs(float(p.energy_pred[i]) - s.energy) for i, s in enumerate(val)]
    f_err = (p.forces_pred - p.forces_true).abs().numpy()
    atoms = p.structure.numpy()
    forces = [
        1000 * f_err[(atoms == i) & ~np.concatenate([v.fixed for v in val])].mean()
        for i in range(len(val))
    ]
    return float(np.mean(energy)), float(np.mean(forces))


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """results/ with two imported runs: ``eq2-12`` evaluated on val, ``eq2-allmd`` not."""
    tmp = tmp_path_factory.mktemp("released")
    results = tmp / "results"
    _import(tmp, "eq2_dens_epochs_12_2M.pt", results / "eq2-12")
    _import(tmp, "eq2_dens_allmd.pt", results / "eq2-allmd")
    proc = _bench(
        "eval",
        "--run",
        str(results / "eq2-12"),
        "--split",
        "val",
        "--data-root",
        str(_oc20_root(tmp)),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert str(results / "eq2-12" / "metrics.json") in json.loads(proc.stdout)["written"]
    return results


def test_eval_records_metrics_and_data(results):
    record = json.loads((results / "eq2-12" / "metrics.json").read_text())
    assert record["status"] == "imported"
    assert {"val", "val/id", "val/ood_ads", "val/ood_cat", "val/ood_both", "val/average"} <= set(
        record["metrics"]
    )
    data = record["scale"]["evaluated"]["val"]
    assert (data["dataset"], data["n_structures"]) == ("oc20", 4)
    assert any("val_ood_cat" in path for path in data["sources"])
    assert record["scale"]["imported_from"]["file"].endswith("eq2_dens_epochs_12_2M.pt")
    assert json.loads((results / "eq2-allmd" / "metrics.json").read_text())["metrics"] == {}


def test_report_shows_the_evaluated_checkpoint(results):
    energy, forces = _expected(results / "eq2-12", results.parent / "data")
    proc = _bench("report", "--table", "1d", "--results", str(results), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    lines = [r for r in csv.DictReader(io.StringIO(proc.stdout)) if r["kind"] == "released"]
    assert {r["row"] for r in lines} == {"equiformer_v2_dens_e12"}
    cells = {r["column"]: r for r in lines}
    assert float(cells["forces"]["value"]) == pytest.approx(forces, rel=1e-4)
    assert float(cells["energy"]["value"]) == pytest.approx(energy, rel=1e-4)
    assert cells["forces"]["scale"].endswith("eq2_dens_epochs_12_2M.pt")
    assert float(cells["forces"]["rel_diff_pct"]) == pytest.approx(
        (forces / 19.32 - 1) * 100, rel=1e-3
    )

    md = _bench("report", "--table", "1d", "--results", str(results)).stdout
    row = next(line for line in md.splitlines() if "evaluated from released checkpoint [" in line)
    assert f"{forces:.3f}" in row and f"{energy:.1f}" in row
    assert "evaluated from released checkpoint: eq2_dens_epochs_12_2M.pt; run eq2-12" in md


def test_unevaluated_import_is_not_shown(results):
    for fmt in ("md", "latex", "csv"):
        proc = _bench("report", "--table", "2", "--results", str(results), "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        assert "released checkpoint" not in proc.stdout
        assert "eq2-allmd" not in proc.stdout
