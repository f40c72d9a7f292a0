"""`bench data ...` in a subprocess on the shipped tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parents[1] / "data"


def bench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from bench.cli import main; main()", *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=full_env)


def test_info_json_on_shipped_rmd17():
    sizes = ("--n-train", "200", "--n-val", "20")
    r = bench("data", "info", "rmd17", "-m", "aspirin", "--data-root", str(DATA), *sizes, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["n_structures"] == 265  # 298 rows, 33 repeated old_indices
    assert (info["n_atoms_min"], info["n_atoms_max"], info["elements"]) == (21, 21, [1, 6, 8])
    assert info["periodic"] is False
    assert info["splits"] == {"train": 200, "val": 20, "test": 45}
    assert -17640 < info["energy_mean_ev"] < -17630  # aspirin, original MD17 labels in eV
    assert 0.5 < info["force_rms_ev_per_a"] < 2.0


def test_info_periodic_ase_and_bad_molecule():
    r = bench("data", "info", "ase", "--path", str(DATA / "oc20_relax"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["periodic"] is True and info["elements"] == [1, 11, 81]
    r = bench("data", "info", "rmd17", "-m", "asprin", "--data-root", str(DATA))
    assert r.returncode == 2
    assert "rmd17: field 'molecule'" in r.stderr and "Did you mean 'aspirin'" in r.stderr
    assert "Traceback" not in r.stderr


def test_download_fails_clearly_offline(tmp_path):
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port: offline for certain
    proxies = {"http_proxy": dead, "https_proxy": dead, "HTTP_PROXY": dead}
    r = bench(
        "data", "download", "md17", "-m", "aspirin", "--data-root", str(tmp_path), env=proxies
    )
    assert r.returncode == 2
    assert "quantum-machine.org/gdml/data/npz/md17_aspirin.npz" in r.stderr
    assert "download failed" in r.stderr
    assert not any((tmp_path / "md17").iterdir())
