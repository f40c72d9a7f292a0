"""`bench run --variant NAME`: Table 1e index 5 (DeNS with sigma encoding) on the ci preset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from bench.backbones.equiformer_v2.sigma import SIGMA_BASIS
from bench.backbones.registry import build_backbone

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]
DATA = Path(__file__).parents[1] / "data" / "oc20_relax"
#: the total-energy trajectory needs train-split normalisation (what variant total-energy sets)
TOTAL = [
    "data.kind=oc20",
    "data.energy_kind=total",
    "data.normalization=train",
    "data.element_refs=true",
    "data.energy_mean=null",
    "data.energy_std=null",
    "data.force_std=null",
    "data.n_train=3",
    "data.n_val=1",
    "train.batch_size=2",
    "method.params.p_dens=1.0",
]


def test_table_1e_index_5_runs_on_the_ci_preset(tmp_path):
    sets = [arg for item in TOTAL for arg in ("--set", item)]
    proc = subprocess.run(
        [
            *BENCH,
            "run",
            "--backbone",
            "equiformer-v2",
            "--method",
            "dens",
            "--dataset",
            "ase",
            "--path",
            str(DATA),
            "--preset",
            "ci",
            "--variant",
            "dens-sigma-encoding",
            "--max-steps",
            "2",
            "--results",
            str(tmp_path),
            *sets,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["variant"] == "dens-sigma-encoding"
    assert config["method"]["params"]["encode_sigma"] is True
    plain = build_backbone("equiformer-v2", "ci", "oc20", force_encoding=True, noise_head=True)
    n_plain = sum(p.numel() for p in plain.parameters())
    params = json.loads((run_dir / "metrics.json").read_text())["params"]
    assert params == n_plain + SIGMA_BASIS * plain.sphere_embedding.embedding_dim
