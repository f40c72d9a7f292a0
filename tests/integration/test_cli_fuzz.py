"""Bad command-line options of `bench run`, `bench matrix --dry-run`, `bench eval` and
`bench report`: each exits 2 with one line on stderr naming the option, no traceback, and
no run directory. The CLI runs in-process (``bench.cli.main``, the entry point's own error
handling) for speed; tests/integration/test_cli_errors.py sends a few through the installed
entry point and a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.run_request import RunRequest

DATA = Path(__file__).resolve().parents[1] / "data"
RUN = RunRequest("schnet", "dens", "rmd17", molecule="aspirin", data_root=str(DATA)).argv()
MATRIX = [
    "matrix",
    "--dry-run",
    "--backbones",
    "schnet",
    "--methods",
    "none",
    "--datasets",
    "rmd17",
    "--molecules",
    "aspirin",
    "--data-root",
    str(DATA),
]

# (extra arguments, text the one-line message must contain)
RUN_CASES = [
    (["--max-steps", "0"], "train.max_steps"),
    (["--epochs", "0"], "train.epochs"),
    (["--epochs", "2", "--max-steps", "3"], "--max-steps"),
    (["--set", "train.min_lr=-1"], "train.min_lr"),
    (["--set", "train.lr=0"], "train.lr"),
    (["--set", "train.lr=.nan"], "train.lr"),
    (["--set", "train.betas=[1.0, 0.999]"], "train.betas[0]"),
    (["--set", "train.betas=[0.9, -0.1]"], "train.betas[1]"),
    (["--set", "train.betas=[0.9]"], "train.betas"),
    (["--set", "train.adam_eps=-1.0e-8"], "train.adam_eps"),
    (["--set", "train.warmup_epochs=-1"], "train.warmup_epochs"),
    (["--set", "train.weight_decay=-0.1"], "train.weight_decay"),
    (["--set", "train.ema_decay=1.0"], "train.ema_decay"),
    (["--set", "train.checkpoint_every=-1"], "train.checkpoint_every"),
    (["--set", "train.batch_size=0"], "train.batch_size"),
    (["--set", "train.batch_size=100"], "train.batch_size"),  # > the 16-structure train split
    (["--set", "loss.lambda_force=-1"], "loss.lambda_force"),
    (["--set", "model.options.cutoff=-5.0"], "model.options.cutoff"),
    (["--set", "model.options.hidden_channels=0"], "model.options.hidden_channels"),
    (["--set", "model.options.num_interactions=-2"], "model.options.num_interactions"),
    (["--set", "method.params.sigma=-0.1"], "method.params.sigma"),
    (["--set", "method.params.p_dens=2.0"], "p_dens"),
    (["--set", "data.n_train=0"], "data.n_train"),
    (["--set", "data.n_val=-1"], "data.n_val"),
    (["--set", "data.max_structures=0"], "data.max_structures"),
    (["--set", "data.max_structures=-1"], "data.max_structures"),
    (["--set", "data.split_seed=-1"], "data.split_seed"),
    (["--set", "data.energy_std=0"], "data.energy_std"),
    (["--set", "train.lrr=1"], "lrr"),
    (["--set", "novalue"], "--set"),
    (["--seed", "-1"], "seed"),
    (["--seed", str(10**23)], "seed"),
    (["--seed", "1e23"], "--seed"),
    (["--seed", "abc"], "--seed"),
    (["--device", "tpu"], "device"),
    (["--run-id", ""], "run id"),
    (["--run-id", "../../x"], "run id"),
    (["--run-id", "/tmp/elsewhere"], "run id"),
    (["--run-id", ".."], "run id"),
    (["--run-id", "a/b"], "run id"),
    (["--bogus"], "--bogus"),
]
MATRIX_CASES = [
    (["--max-steps", "0"], "max_steps"),
    (["--set", "train.min_lr=-1"], "train.min_lr"),
    (["--set", "model.options.hidden_channels=0"], "model.options.hidden_channels"),
    (["--set", "data.max_structures=-1"], "data.max_structures"),
    (["--seeds", "abc"], "seeds"),
    (["--jobs", "0"], "jobs"),
    (["--launcher", "cloud"], "launcher"),
]
OTHER_CASES = [
    (["eval", "--split", "bogus", "--run", "{results}"], "--split"),
    (["eval", "--run", "{results}/missing"], "missing"),
    (["eval"], "--run"),
    (["report", "--results", "{results}"], "--summary"),
    (["report", "--summary", "--results", "{results}/missing"], "missing"),
    (["report", "--summary", "--format", "xml", "--results", "{results}"], "xml"),
    (["report", "--table", "99", "--results", "{results}"], "99"),
    (["report", "--summary", "--sort"], "--sort"),
]


def bench(args: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """Run ``bench ARGS`` in-process; (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["bench", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr().err


def _check(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert needle in err, err


@pytest.mark.parametrize(("extra", "needle"), RUN_CASES, ids=[" ".join(c[0]) for c in RUN_CASES])
def test_bad_run_option_exits_2_naming_it_and_writes_nothing(
    extra, needle, tmp_path, monkeypatch, capsys
):
    results = tmp_path / "results"
    code, err = bench([*RUN, "--results", str(results), *extra], monkeypatch, capsys)
    _check(code, err, needle)
    assert not results.exists() or not any(results.iterdir())


@pytest.mark.parametrize(
    ("extra", "needle"), MATRIX_CASES, ids=[" ".join(c[0]) for c in MATRIX_CASES]
)
def test_bad_matrix_option_fails_the_dry_run(extra, needle, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    code, err = bench([*MATRIX, "--results", str(results), *extra], monkeypatch, capsys)
    _check(code, err, needle)
    assert not results.exists()


@pytest.mark.parametrize(
    ("args", "needle"), OTHER_CASES, ids=[" ".join(c[0][:3]) for c in OTHER_CASES]
)
def test_bad_eval_and_report_options_exit_2(args, needle, tmp_path, monkeypatch, capsys):
    args = [a.replace("{results}", str(tmp_path)) for a in args]
    code, err = bench(args, monkeypatch, capsys)
    _check(code, err, needle)
    assert not any(tmp_path.iterdir())
