"""One run end to end: ``run_training(config) -> run_dir`` (the library entry point of
``bench run``). Layout and record schema: bench.records.

The config is checked when it is resolved, the data when it is loaded, then the free space:
only then is the run directory created, and it is locked for the run's life
(bench.run_lock: a second process gets RunBusyError instead of training it twice). The
record is written with ``status: running`` before training starts and replaced atomically by
``done`` (with metrics), ``failed`` (with the reason; ``no space left on device`` also
raises DiskFullError) or ``interrupted`` (SIGTERM/SIGINT, bench.train.interrupt); a killed
process therefore never leaves a record that looks finished, and ``--resume`` continues any
of them from its newest checkpoint.

Under torchrun every rank calls :func:`run_training` (bench.train.distributed): all train
their slice of each global batch; rank 0 alone writes the run directory and evaluates.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import signal
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch

from bench.config import RunConfig, is_paper_scale, network_overrides
from bench.data.oc20_subsplits import subsplits_of
from bench.errors import ConfigError
from bench.eval import evaluate, split_metrics
from bench.io import (
    remove_stale_temps,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
    write_yaml_atomic,
)
from bench.progress import say
from bench.records import (
    CHECKPOINT_DIR,
    COMMAND_FILE,
    CONFIG_FILE,
    RECORD_FILE,
    RunRecord,
    read_record,
)
from bench.run_lock import ALREADY_DONE, RunBusyError, is_locked, run_lock
from bench.train import provenance
from bench.train.batches import TORCH_STREAM, derived_seed
from bench.train.checkpoint import list_checkpoints
from bench.train.distributed import World, process_group
from bench.train.interrupt import RunInterrupted, signals_interrupt
from bench.train.loop import RunIO, Trainer
from bench.train.normalization import Normalization
from bench.train.preflight import (
    NO_SPACE,
    DiskFullError,
    check_batch_size,
    check_free_space,
    is_disk_full,
    required_bytes,
)
from bench.train.setup import (
    MODEL_FILE,
    STATS_FILE,
    build_model,
    build_run_method,
    check_device,
    load_split,
    normalization,
    to_data_list,
)
from bench.train.sinks import check_sinks
from bench.train.step import NonFiniteLossError
from bench.train.summary import startup_lines

#: TrainConfig keys that cannot change a run's results (how batches are built, not which):
#: left out of the run id and of ``--resume``'s config comparison
RESULT_NEUTRAL = ("loader_workers",)


def default_run_id(cfg: RunConfig) -> str:
    """``<dataset>[-<molecule>]-<backbone>-<method>-<preset>-s<seed>-<hash>``; the hash covers
    the whole config minus where things are (run id, results folder, data root, device;
    ``data.path`` relative to the data root, else by its name) and minus RESULT_NEUTRAL
    (``train.loader_workers``, which cannot change results), so equal experiments share an id
    on any machine."""
    identity = _results_config(cfg.to_dict())
    for key in ("run_id", "results", "device"):
        identity.pop(key)
    root = identity["data"].pop("data_root")
    if identity["data"]["path"] is not None:
        identity["data"]["path"] = _portable_path(identity["data"]["path"], root)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    parts = [
        cfg.data.name,
        cfg.data.molecule,
        cfg.model.backbone,
        cfg.method.name,
        cfg.preset,
        f"s{cfg.seed}",
        digest,
    ]
    return "-".join(str(p) for p in parts if p)


def _results_config(config: dict) -> dict:
    """``config`` (a RunConfig as a dict) without the RESULT_NEUTRAL keys of ``train``."""
    train = {k: v for k, v in config.get("train", {}).items() if k not in RESULT_NEUTRAL}
    return config | {"train": train}


def _portable_path(path: str, root: str | None) -> str:
    """``path`` relative to ``root`` when inside it, else its last component."""
    path_ = Path(path).absolute()
    if root is not None and path_.is_relative_to(Path(root).absolute()):
        return path_.relative_to(Path(root).absolute()).as_posix()
    return path_.name


def run_training(
    cfg: RunConfig,
    command: str = "",
    resume: bool = False,
    backend: str | None = None,
    log_sinks: tuple[str, ...] = (),
) -> Path:
    """Train, evaluate (val and test) and record one run; returns its directory.

    With ``resume``: an existing run of the same config continues from its newest checkpoint
    (a finished one is returned as is). Without it, an existing run directory is an error.
    A diverging run is recorded as ``failed: non-finite loss at step N`` and returned.
    Under torchrun the process group uses ``backend`` (default nccl on CUDA, gloo on CPU);
    every rank returns once the record is final. ``log_sinks``: extra copies of log.jsonl
    (bench.train.sinks). Rank 0 prints a start-up summary and progress on stderr.
    """
    check_device(cfg.device)
    if cfg.run_id is None:
        cfg.run_id = default_run_id(cfg)
    with process_group(cfg.device, backend) as world:
        return _run(cfg, command, resume, world, check_sinks(log_sinks))


def _run(
    cfg: RunConfig, command: str, resume: bool, world: World, log_sinks: tuple[str, ...] = ()
) -> Path:
    run_dir = Path(cfg.results) / cfg.run_id
    previous = _check_existing(run_dir, cfg, resume)
    if previous is not None and previous.status == "done":
        return _already_done(run_dir, world)
    if is_locked(run_dir):
        raise RunBusyError(f"{run_dir}: running in another process (its run.lock is held)")
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    split = load_split(cfg.data)  # inputs are checked before the run directory exists
    check_batch_size(cfg.train.batch_size * world.size, len(split.train))
    stats = normalization(cfg.data, split.train, split.e0s) | {"energy_kind": split.energy_kind}
    norm = Normalization.from_dict(stats)
    method = build_run_method(cfg)
    model = build_model(cfg, method, norm)
    if world.is_main:
        check_free_space(run_dir, required_bytes(model, cfg.train))
    with run_lock(run_dir) if world.is_main else nullcontext(), signals_interrupt():
        previous = _check_existing(run_dir, cfg, resume)  # again, now that it is ours
        world.barrier()  # every rank has read the old record before rank 0 replaces it
        if previous is not None and previous.status == "done":
            return _already_done(run_dir, world)
        record = _start_record(cfg, command, model, previous, world)
        if world.is_main:
            _write_inputs(run_dir, cfg, command, stats)
            record.write(run_dir)
        _seed_rank(cfg.seed, world.rank)
        _train_recorded(
            _Run(cfg, run_dir, record, model, method, split, norm, resume, world, log_sinks)
        )
        world.barrier()  # the record is final before any rank returns
    return run_dir


def _already_done(run_dir: Path, world: World) -> Path:
    """``run_dir``, after saying on stderr (rank 0) that it was finished before this call."""
    if world.is_main:
        say(f"{run_dir}: {ALREADY_DONE}")
    return run_dir


@dataclass(frozen=True)
class _Run:
    """One run once its inputs are known good: what training and evaluation act on."""

    cfg: RunConfig
    run_dir: Path
    record: RunRecord
    model: torch.nn.Module
    method: object  # bench.methods.base.Method
    split: object  # bench.data.registry.SplitData
    norm: Normalization
    resume: bool
    world: World
    log_sinks: tuple[str, ...] = ()


def _train_recorded(run: _Run) -> None:
    """Train and evaluate; whatever stops it is written to the record (rank 0): ``failed``
    with the reason, or ``interrupted`` on SIGTERM/SIGINT. A full disk is a DiskFullError."""
    record, run_dir, world = run.record, run.run_dir, run.world
    try:
        _train_and_evaluate(run)
    except NonFiniteLossError as exc:
        if world.is_main:
            _finish(record, run_dir, "failed", f"non-finite loss at step {exc.step}")
    except KeyboardInterrupt as exc:
        reason = _interrupt_reason(exc, run_dir)
        if world.is_main:
            _finish(record, run_dir, "interrupted", reason)
        raise RunInterrupted(getattr(exc, "signum", signal.SIGINT), f"{run_dir}: {reason}") from exc
    except BaseException as exc:
        full = is_disk_full(exc)
        reason = NO_SPACE if full else f"{type(exc).__name__}: {exc}"
        if world.is_main:
            _finish(record, run_dir, "failed", reason)
        if full:
            raise DiskFullError(
                f"{run_dir}: {NO_SPACE}; free space, then run the same command with --resume"
            ) from exc
        raise


def _seed_rank(seed: int, rank: int) -> None:
    """Own torch and Python random streams (dropout) for ranks above 0; rank 0 keeps the
    one-process streams."""
    if rank > 0:
        torch.manual_seed(derived_seed(seed, TORCH_STREAM, rank))
        random.seed(derived_seed(seed, TORCH_STREAM, rank))


def _train_and_evaluate(run: _Run) -> None:
    cfg, run_dir, record, model, split, norm, world = (
        run.cfg,
        run.run_dir,
        run.record,
        run.model,
        run.split,
        run.norm,
        run.world,
    )
    dev = torch.device(cfg.device)
    val = to_data_list(split.val, cfg.dtype)
    trainer = Trainer(
        model,
        run.method,
        to_data_list(split.train, cfg.dtype),
        cfg.train,
        cfg.seed,
        norm,
        RunIO(
            run_dir,
            validate=lambda: evaluate(model, val, cfg.train.eval_batch_size, dev, split.periodic),
            world=world,
            sinks=run.log_sinks,
        ),
    )
    if world.is_main:
        for line in startup_lines(cfg, split, norm, record.params, trainer, world.size):
            say(line)
    if run.resume:
        trainer.resume()
    trainer.fit()
    if not world.is_main:
        return
    test = to_data_list(split.test, cfg.dtype)
    with trainer.eval_weights():
        metrics = {}
        for name, structures, data in (("val", split.val, val), ("test", split.test, test)):
            metrics |= split_metrics(
                model,
                data,
                subsplits_of(structures),
                cfg.train.eval_batch_size,
                dev,
                split.periodic,
                name,
            )
        _save_weights(model, run_dir / CHECKPOINT_DIR / MODEL_FILE)
    record.status, record.metrics = "done", metrics
    record.wall_time_s, record.steps = trainer.train_time, trainer.step
    record.samples_per_s = trainer.samples / max(trainer.train_time, 1e-9)
    record.epochs = trainer.epochs_done
    record.peak_memory_mb = provenance.peak_memory_mb(cfg.device)
    record.scale = {
        "preset": cfg.preset,
        "profile": cfg.profile,
        "variant": cfg.variant,
        "n_train": len(split.train),
        "n_val": len(split.val),
        "n_test": len(split.test),
        "epochs": trainer.epochs_done,
        "steps": trainer.step,
        "batch_size": cfg.train.batch_size,
        "world_size": world.size,
        "global_batch_size": cfg.train.batch_size * world.size,
        "paper_scale": is_paper_scale(cfg),
        "network_overrides": network_overrides(cfg),
    }
    record.finished_at = _now()
    record.write(run_dir)


def _check_existing(run_dir: Path, cfg: RunConfig, resume: bool) -> RunRecord | None:
    """The existing record of ``run_dir`` (None if new); ConfigError on a clash (any config
    key but RESULT_NEUTRAL: a run resumes with any number of loader workers)."""
    if not (run_dir / RECORD_FILE).is_file():
        return None
    record = read_record(run_dir)
    if not resume:
        raise ConfigError(
            f"{run_dir}: a run with status {record.status!r} exists; pass --resume "
            f"to continue it, or another --run-id"
        )
    recorded, wanted = _results_config(record.config), _results_config(cfg.to_dict())
    if recorded != wanted:
        diff = sorted(_diff_keys(recorded, wanted))
        raise ConfigError(f"{run_dir}: --resume with a different config (keys {diff})")
    return record


def _diff_keys(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff_keys(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(prefix + key)
    return out


def _write_inputs(run_dir: Path, cfg: RunConfig, command: str, stats: dict) -> None:
    """config.yaml, command.txt and the normalisation; ConfigError when the results folder
    is not writable (the directory itself exists: run_lock made it)."""
    try:
        (run_dir / CHECKPOINT_DIR).mkdir(exist_ok=True)
        write_yaml_atomic(run_dir / CONFIG_FILE, cfg.to_dict())
        write_text_atomic(run_dir / COMMAND_FILE, command + "\n")
        write_json_atomic(run_dir / STATS_FILE, stats)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"{run_dir}: {NO_SPACE}") from exc
        raise ConfigError(f"{run_dir}: cannot write the run directory ({exc})") from exc


def _start_record(
    cfg: RunConfig, command: str, model, previous: RunRecord | None, world: World
) -> RunRecord:
    return RunRecord(
        run_id=cfg.run_id,
        status="running",
        config=cfg.to_dict(),
        seed=cfg.seed,
        command=command,
        git_revision=provenance.git_revision(),
        versions=provenance.versions(),
        hardware=provenance.hardware(cfg.device) | {"processes": world.size},
        params=sum(p.numel() for p in model.parameters()),
        started_at=previous.started_at if previous is not None else _now(),
    )


def _finish(record: RunRecord, run_dir: Path, status: str, reason: str) -> None:
    """Write the record as ``status`` (failed | interrupted) with ``reason``; on a full disk
    the record may not be writable either, and stays ``running`` (``--resume`` continues)."""
    record.status, record.failure, record.finished_at = status, reason, _now()
    try:
        record.write(run_dir)
    except OSError as exc:
        if not is_disk_full(exc):
            raise


def _interrupt_reason(exc: BaseException, run_dir: Path) -> str:
    """e.g. ``interrupted by SIGTERM (--resume continues from step 500)``: the step of the
    newest checkpoint."""
    signal_name = getattr(exc, "signal_name", "SIGINT")
    latest = list_checkpoints(run_dir / CHECKPOINT_DIR)
    start = int(latest[-1].stem.split("-")[1]) if latest else 0
    return f"interrupted by {signal_name} (--resume continues from step {start})"


def _save_weights(model, path: Path) -> None:
    remove_stale_temps(path)  # left by a write that was killed
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_bytes_atomic(path, buffer.getvalue())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
