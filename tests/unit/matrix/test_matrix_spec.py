"""MatrixSpec: YAML and command-line values, strict keys and types, name validation."""

from __future__ import annotations

import re

import pytest

from bench.errors import ConfigError
from bench.matrix import MatrixSpec, SlurmResources, load_spec, spec_from_dict
from bench.matrix.spec import validate_names


def test_comma_strings_and_lists_give_the_same_spec():
    a = spec_from_dict(
        {
            "backbones": "schnet,equiformer",
            "methods": "none",
            "datasets": "rmd17",
            "seeds": "0,1,2",
            "max_steps": 5,
        }
    )
    b = spec_from_dict(
        {
            "backbones": ["schnet", "equiformer"],
            "methods": ["none"],
            "datasets": ["rmd17"],
            "seeds": [0, 1, 2],
            "max_steps": 5,
        }
    )
    assert a == b
    assert a.seeds == (0, 1, 2) and a.max_steps == 5 and a.launcher == "local"
    with pytest.raises(ConfigError, match="matrix: max_steps: expected int, got '5'"):
        spec_from_dict({**b.__dict__, "slurm": {}, "max_steps": "5"})  # strict, as run configs


def test_yaml_spec_with_slurm_and_cli_overrides(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "backbones: [schnet]\nmethods: [none, dens]\ndatasets: [rmd17]\nmolecules: aspirin\n"
        "overrides: {train.lr: 0.001}\nlauncher: slurm\n"
        "slurm: {partition: gpu, time_min: 600, gpus_per_node: 2, mem_gb: 32, setup: [a, b]}\n"
    )
    spec = load_spec(
        path, seeds="3", overrides={"train.batch_size": 4}, slurm={"time_min": 30}, jobs=None
    )
    assert spec.seeds == (3,) and spec.molecules == ("aspirin",)
    assert spec.overrides == {"train.lr": 0.001, "train.batch_size": 4}
    assert spec.slurm == SlurmResources(
        partition="gpu", time_min=30, gpus_per_node=2, mem_gb=32.0, setup=("a", "b")
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"backbone": "schnet"}, "matrix: unknown key 'backbone'"),
        ({"seeds": "a,b"}, "matrix: seeds[0]: expected int, got 'a'"),
        ({"seeds": [1.5]}, "seeds[0]: expected int"),
        ({"methods": ""}, "'methods' must name at least one value"),
        ({"launcher": "sluurm"}, "Did you mean 'slurm'"),
        ({"jobs": 0}, "'jobs' must be >= 1, got 0"),
        ({"slurm": {"gpu": 1}}, "matrix: slurm: unknown key 'gpu'"),
        ({"slurm": {"time_min": 0}}, "slurm.time_min must be >= 1, got 0"),
        ({"overrides": "lr=1"}, "overrides: expected a mapping"),
    ],
)
def test_bad_specs_are_config_errors(data, message):
    base = {"backbones": "schnet", "methods": "none", "datasets": "rmd17"}
    with pytest.raises(ConfigError, match=re.escape(message)):
        spec_from_dict({**base, **data})


def test_unknown_yaml_key_names_the_file(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("backbones: [schnet]\nmethods: [none]\ndatasets: [rmd17]\nsedes: [1]\n")
    with pytest.raises(ConfigError, match=r"m\.yaml: unknown key 'sedes'.*Did you mean 'seeds'"):
        load_spec(path)


def test_unknown_names_get_did_you_mean():
    spec = MatrixSpec(backbones=("schnet",), methods=("dense",), datasets=("rmd17",))
    with pytest.raises(ConfigError, match="method unknown 'dense'.*Did you mean 'dens'"):
        validate_names(spec)


def test_threads_split_the_cores_over_jobs(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    spec = MatrixSpec(backbones=("schnet",), methods=("none",), datasets=("rmd17",), jobs=3)
    assert spec.threads_per_run() == 5
    assert spec_from_dict({**spec.__dict__, "slurm": {}, "threads": 2}).threads_per_run() == 2
