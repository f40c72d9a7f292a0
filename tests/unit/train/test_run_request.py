"""RunRequest: the one option -> config-key mapping, its inverse (argv), parsed back by the
real `bench run` command, and one key=value parser for every path."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import bench.commands.train
from bench.cli import app
from bench.commands.params import parameter_count
from bench.config import parse_overrides, parse_pairs, resolve_config, safe_load
from bench.errors import ConfigError
from bench.matrix import GridPoint, load_spec, spec_from_dict
from bench.matrix.run import build_task, plan_matrix
from bench.run_request import RunRequest, override
from bench.train.run import default_run_id

FULL = RunRequest(
    backbone="equiformer",
    method="dens",
    dataset="rmd17",
    config="run.yaml",
    seed=3,
    preset="paper-l3",
    scale="ci",
    molecule="aspirin",
    labels="revised",
    path="/data/x.npz",
    profile="released",
    variant="epochs20",
    max_steps=7,
    device="cuda",
    data_root="/data",
    overrides=("method.params.sigma=0.05", "train.lr=1e-3"),
    results="/res",
    run_id="r1",
)


def _parsed(args: list[str], monkeypatch) -> RunRequest:
    """The RunRequest the real ``bench run`` command builds from ``args`` (not trained)."""
    seen = []
    monkeypatch.setattr(
        bench.commands.train, "train_request", lambda request, *a, **k: seen.append(request)
    )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (request,) = seen
    return request


@pytest.mark.parametrize(
    "request_",
    [
        FULL,
        RunRequest(backbone="schnet", method="none", dataset="md17", epochs=2),
        RunRequest(),
    ],
    ids=["every-option", "epochs", "nothing"],
)
def test_argv_parses_back_to_the_same_request(request_, monkeypatch):
    assert _parsed(request_.argv(), monkeypatch) == request_


def test_command_line_to_request_to_command_line(monkeypatch):
    args = [
        "run",
        "--backbone",
        "segnn",
        "--method",
        "dens",
        "--dataset",
        "rmd17",
        "--seed",
        "1",
        "--molecule",
        "ethanol",
        "--max-steps",
        "5",
        "--set",
        "train.lr=0.002",
        "--set",
        "method.params.sigma=0.1",
    ]
    assert _parsed(args, monkeypatch).argv() == args


def test_to_overrides_is_the_one_option_mapping():
    assert FULL.to_overrides() == {
        "data.molecule": "aspirin",
        "data.labels": "revised",
        "data.path": "/data/x.npz",
        "data.data_root": "/data",
        "seed": 3,
        "variant": "epochs20",
        "train.max_steps": 7,
        "device": "cuda",
        "results": "/res",
        "run_id": "r1",
    }
    assert RunRequest(epochs=4).to_overrides() == {"train.epochs": 4, "train.max_steps": None}
    with pytest.raises(ConfigError, match="mutually exclusive"):
        RunRequest(epochs=4, max_steps=5)


def test_resolve_is_resolve_config_with_the_mapped_options(tmp_path):
    request = RunRequest(
        "schnet",
        "dens",
        "rmd17",
        molecule="aspirin",
        seed=2,
        max_steps=9,
        data_root=str(tmp_path),
        overrides=("method.params.sigma=0.02",),
    )
    cfg = resolve_config(
        "schnet",
        "dens",
        "rmd17",
        cli={
            "data.molecule": "aspirin",
            "seed": 2,
            "train.max_steps": 9,
            "data.data_root": str(tmp_path),
        },
        overrides=["method.params.sigma=0.02"],
    )
    assert request.resolve() == cfg
    assert cfg.method.params.sigma == 0.02 and cfg.train.max_steps == 9


def test_matrix_and_bench_run_give_one_run_the_same_id(tmp_path):
    spec = spec_from_dict(
        {
            "backbones": "schnet",
            "methods": "dens",
            "datasets": "rmd17",
            "molecules": "aspirin",
            "seeds": "1",
            "max_steps": 3,
            "overrides": {"train.lr": "1e-3"},
            "results": str(tmp_path),
            "data_root": "/somewhere",
        }
    )
    (run,) = plan_matrix(spec)
    by_hand = RunRequest(
        "schnet",
        "dens",
        "rmd17",
        molecule="aspirin",
        seed=1,
        max_steps=3,
        preset="ci",
        overrides=("train.lr=0.001",),
        data_root="/elsewhere",
    )
    assert run.task.run_id == default_run_id(by_hand.resolve())
    assert run.task.argv[run.task.argv.index("--run-id") + 1] == run.task.run_id
    point = GridPoint(
        "schnet",
        "dens",
        "rmd17",
        seed=1,
        molecule="aspirin",
        max_steps=3,
        overrides={"train.lr": 0.001},
    )
    assert build_task(point, spec, run.decision).run_id == run.task.run_id


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-3", 0.001),
        ("-2E+4", -20000.0),
        (".5e1", 5.0),
        ("1.0e-3", 0.001),
        ("3", 3),
        ("x1e3", "x1e3"),
        ("'1e-3'", "1e-3"),
        ("[1e-3, 2]", [0.001, 2]),
        ("", None),
    ],
)
def test_one_value_parser_reads_exponent_floats(text, value):
    assert safe_load(text) == value and type(safe_load(text)) is type(value)


def test_every_key_value_option_uses_the_same_parser():
    assert parse_overrides(["train.lr=1e-3", "train.lr=2e-3"]) == {"train": {"lr": 0.002}}
    assert parse_pairs(["train.lr=1e-3", "mem_gb=16"], "--slurm") == {
        "train.lr": 0.001,
        "mem_gb": 16,
    }
    count = parameter_count("schnet", "md17", "ci", False, parse_pairs(["cutoff=5e0"]))
    assert count["overrides"] == {"cutoff": 5.0}
    with pytest.raises(ConfigError, match="--slurm expects key=value"):
        parse_pairs(["oops"], "--slurm")
    assert override("train.lr", 0.001) == "train.lr=0.001"
    assert parse_pairs([override("a", [1, "x"]), override("b", "1e-3")]) == {
        "a": [1, "x"],
        "b": 0.001,
    }


def test_a_spec_file_reads_exponent_floats_as_bench_run_does(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "backbones: schnet\nmethods: none\ndatasets: rmd17\noverrides: {train.lr: 1e-3}\n"
    )
    assert load_spec(path).overrides == {"train.lr": 0.001}
