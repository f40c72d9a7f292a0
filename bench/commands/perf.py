"""CLI: `bench perf` (training throughput and method overheads, graph and loader throughput)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from bench.errors import ConfigError

_Opt = typer.Option
COMPONENTS = ("train", "graph", "loader")


def perf_cmd(
    backbone: Annotated[str | None, _Opt(help="Backbone (component train).")] = None,
    methods: Annotated[str, _Opt(help="Comma-separated methods; overheads vs none.")] = "none,dens",
    dataset: Annotated[str, _Opt(help="md17-aspirin | oc20-relax | any bench dataset.")] = (
        "md17-aspirin"
    ),
    component: Annotated[str, _Opt(help="train | graph | loader.")] = "train",
    preset: Annotated[str, _Opt(help="Network size: a backbone preset.")] = "ci",
    profile: Annotated[str, _Opt(help="paper-v1 | released.")] = "paper-v1",
    batch_size: Annotated[int | None, _Opt(help="Structures per batch [profile's; 8].")] = None,
    steps: Annotated[int, _Opt(help="Timed steps per method.")] = 40,
    warmup: Annotated[int, _Opt(help="Untimed steps per method first.")] = 5,
    repeats: Annotated[int, _Opt(help="Blocks of timed steps (spread of ratios).")] = 5,
    device: Annotated[str, _Opt(help="cpu | cuda.")] = "cpu",
    threads: Annotated[int | None, _Opt(help="torch threads [torch's default].")] = None,
    seed: Annotated[int, _Opt(help="Init, data-order and corruption seed.")] = 0,
    data_root: Annotated[Path | None, _Opt(help="Data root [tests/data subset].")] = None,
    profile_top: Annotated[int, _Opt(help="Keep the N costliest ops of one profiled step.")] = 0,
    amp: Annotated[bool, _Opt("--amp", help="Also measure each method with bf16 autocast.")] = (
        False
    ),
    flop_steps: Annotated[int, _Opt(help="Count matmul FLOPs over N more steps per arm.")] = 0,
    compile_: Annotated[
        bool,
        _Opt(
            "--compile",
            help="Also measure each method with torch.compile (direct-force backbones).",
        ),
    ] = False,
    workers: Annotated[str, _Opt(help="Loader worker counts, comma-separated.")] = "0,2",
    batches: Annotated[int, _Opt(help="Loader batches per worker count.")] = 50,
    lmdb: Annotated[Path | None, _Opt(help="Loader: S2EF LMDB file or folder of shards.")] = (None),
    max_structures: Annotated[int | None, _Opt(help="Graph/loader: at most N structures.")] = (
        None
    ),
    supercell: Annotated[str, _Opt(help="Graph: repeat periodic frames a,b,c times.")] = "1,1,1",
    as_json: Annotated[bool, _Opt("--json", help="Print the record as JSON.")] = False,
    output: Annotated[Path | None, _Opt(help="Record file [results/perf/<name>.json].")] = None,
    overrides: Annotated[list[str] | None, _Opt("--set", help="Dotted key=value.")] = None,
) -> None:
    """Measure throughput, time split, peak memory and method overheads in ONE process; writes
    a JSON record (the LAST stdout line is its path unless --json)."""
    import torch

    from bench.perf import measure
    from bench.perf.datasets import default_data_root
    from bench.perf.format import summary_lines
    from bench.train.setup import check_device

    if component not in COMPONENTS:
        raise ConfigError(f"--component must be one of {COMPONENTS}, got {component!r}")
    check_device(device)
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    root = data_root if data_root is not None else default_data_root()
    try:
        run = _job(component, locals() | {"root": root})
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    record = measure(component, run, device, shlex.join(["bench", *sys.argv[1:]]))
    path = record.write(output)
    if as_json:
        typer.echo(json.dumps(record.to_dict(), indent=2, sort_keys=True))
        return
    for line in summary_lines(record):
        typer.echo(line)
    typer.echo(str(path))


def _job(component: str, a: dict):
    """The measurement of ``component`` from the parsed options ``a``, ready to run."""
    if component == "graph":
        from bench.perf.graph import run_graph_bench

        size, reps = a["batch_size"] or 8, tuple(_ints(a["supercell"], "--supercell"))
        if len(reps) != 3 or min(reps) < 1:
            raise ConfigError(f"--supercell needs three positive integers, got {a['supercell']!r}")
        return lambda: run_graph_bench(
            a["root"], size, a["repeats"], a["max_structures"] or 64, a["device"], reps
        )
    if component == "loader":
        from bench.perf.loader import run_loader_bench

        counts = tuple(_ints(a["workers"], "--workers"))
        return lambda: run_loader_bench(
            a["dataset"],
            a["root"],
            a["lmdb"],
            counts,
            a["batch_size"] or 8,
            a["batches"],
            a["max_structures"],
        )
    from bench.perf.train import TrainBenchOptions, run_train_bench

    if a["backbone"] is None:
        raise ConfigError("--component train needs --backbone")
    opts = TrainBenchOptions(
        backbone=a["backbone"],
        methods=tuple(m.strip() for m in a["methods"].split(",")),
        dataset=a["dataset"],
        preset=a["preset"],
        profile=a["profile"],
        batch_size=a["batch_size"],
        steps=a["steps"],
        warmup=a["warmup"],
        repeats=a["repeats"],
        device=a["device"],
        seed=a["seed"],
        data_root=str(a["root"]),
        overrides=tuple(a["overrides"] or ()),
        profile_top=a["profile_top"],
        amp=a["amp"],
        compile=a["compile_"],
        flop_steps=a["flop_steps"],
    )
    return lambda: run_train_bench(opts)


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError as exc:
        raise ConfigError(f"{option} expects comma-separated integers, got {text!r}") from exc


def register(app: typer.Typer) -> None:
    """Add `perf` to ``app``."""
    app.command("perf")(perf_cmd)
