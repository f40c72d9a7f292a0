"""`bench params` run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]


def _bench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    ("extra", "expected"),
    # 455,809: PyG SchNet(128, 128, 6 interactions, 50 Gaussians); 518,530 adds the hand-counted
    # DeNS encoder (6,656) and noise head (56,065), see tests/unit/backbones/test_schnet.py.
    # The --set values restate the preset, so the count is unchanged; they must arrive as YAML
    # values (int, None), not strings.
    [
        (("--set", "num_interactions=6", "--set", "max_neighbors=null"), 455_809),
        (("--dens",), 518_530),
    ],
    ids=["plain", "dens"],
)
def test_params_json_for_schnet_paper(extra, expected):
    proc = _bench(
        "params", "--backbone", "schnet", "--dataset", "md17", "--preset", "paper", *extra, "--json"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["backbone"], out["dataset"], out["preset"]) == ("schnet", "md17", "paper")
    assert out["params"] == expected
    assert out["params_millions"] == pytest.approx(expected / 1e6, abs=5e-4)
    assert out["dens"] == ("--dens" in extra)
    if "--set" in extra:
        assert out["overrides"] == {"num_interactions": 6, "max_neighbors": None}


def test_unknown_backbone_exits_2_with_suggestion():
    proc = _bench("params", "--backbone", "schnett", "--json")
    assert proc.returncode == 2
    assert "Did you mean 'schnet'?" in proc.stderr
