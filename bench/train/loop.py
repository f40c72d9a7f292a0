"""The training loop: a Trainer that steps, logs, validates, checkpoints and resumes exactly.

Everything random is either a pure function of (seed, epoch) (the data order) or saved in
checkpoints (the method's corruption generator, torch's global RNG used by dropout, Python's
RNG; every rank's under data parallelism), so on CPU a resumed run repeats the uninterrupted
one bit for bit. The batches come from a bench.train.prefetch.BatchStream, built in this
process or by ``train.loader_workers`` DataLoader workers ahead of the step: the same batches
either way, and a stream is re-created at the step a run resumes from. Data parallel
(bench.train.distributed): every rank runs this loop on its slice of the global batch through
the DDP wrapper; only rank 0 validates and writes files.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Batch, Data

from bench.config import TrainConfig
from bench.errors import ConfigError
from bench.io import write_bytes_atomic, write_text_atomic
from bench.methods.base import Method
from bench.progress import ProgressDisplay, format_seconds
from bench.train.batches import EpochBatches, corruption_generator
from bench.train.checkpoint import load_latest, save_checkpoint
from bench.train.compiled import compile_backbone
from bench.train.distributed import World
from bench.train.ema import EMA
from bench.train.normalization import Normalization
from bench.train.optim import build_optimizer
from bench.train.prefetch import BatchStream
from bench.train.schedule import WarmupCosine, fit_warmup
from bench.train.sinks import open_sinks
from bench.train.step import StepContext, train_step

#: the evaluation weights with the lowest validation force MAE so far, under checkpoints/
BEST_FILE = "best.pt"


@dataclass(frozen=True)
class RunIO:
    """Where a Trainer's run writes and what it reports to.

    Attributes:
        run_dir: where ``log.jsonl`` and ``checkpoints/`` go (None: no files).
        validate: called at epoch ends every ``val_every_epochs`` epochs (with EMA weights when
            EMA is on; rank 0 only); returns metrics logged with ``"split": "val"``. The
            weights with the lowest validation ``force_mae_mev_per_a`` so far are kept in
            ``checkpoints/best.pt``.
        world: the data-parallel world (None: one process); the batch size is per rank.
        sinks: extra log outputs (bench.train.sinks names: csv, tensorboard, wandb).
    """

    run_dir: Path | None = None
    validate: Callable[[], dict[str, Any]] | None = None
    world: World | None = None
    sinks: tuple[str, ...] = ()


class Trainer:
    """Trains ``model`` with ``method`` on ``train_data`` for ``cfg`` (TrainConfig).

    Args:
        model: a backbone on its device, normalisation already set.
        method: the training regime (bench.methods.base.Method).
        train_data: training structures as PyG ``Data``.
        cfg: optimisation settings. seed: run seed (data order and corruption streams).
        norm: the target normalisation; its stds normalise the loss (eV, eV/Angstrom).
        run_io: run directory, validation, data-parallel world and log sinks (None: none).

    Progress goes to stderr (bench.progress): a bar on a terminal, otherwise one plain line
    per logged step (step, epoch, lr, loss terms, structures/s, ETA).
    """

    def __init__(
        self,
        model: nn.Module,
        method: Method,
        train_data: Sequence[Data],
        cfg: TrainConfig,
        seed: int,
        norm: Normalization,
        run_io: RunIO | None = None,
    ) -> None:
        run_io = run_io or RunIO()
        self.model, self.method, self.cfg = model, method, cfg
        self.sink_names = run_io.sinks
        if cfg.compile:
            compile_backbone(model)
        self.world = run_io.world or World()
        self.train_model = self.world.wrap(model)
        self.device = next(model.parameters()).device
        self.batches = EpochBatches(
            train_data, cfg.batch_size, seed, cfg.drop_last, self.world.rank, self.world.size
        )
        self.steps_per_epoch = len(self.batches)
        self.total_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch
        self.optimizer = build_optimizer(
            model, cfg.lr, cfg.weight_decay, tuple(cfg.betas), cfg.adam_eps
        )
        run_epochs = self.total_steps / self.steps_per_epoch
        warmup, unit, self.schedule_note = fit_warmup(
            cfg.warmup_epochs, cfg.epochs, run_epochs, cfg.schedule_unit
        )
        self.schedule = WarmupCosine(
            cfg.lr, cfg.warmup_lr, cfg.min_lr, warmup, run_epochs, self.steps_per_epoch, unit
        )
        self.ema = EMA(model, cfg.ema_decay) if cfg.ema_decay else None
        self.generator = corruption_generator(seed, self.world.rank)
        self.context = StepContext(
            energy_std=float(norm.energy_std),
            force_std=float(norm.force_std),
            generator=self.generator,
            grad_clip=cfg.grad_clip,
            amp=cfg.amp,
            world=self.world if self.world.active else None,
        )
        self.run_dir = None if run_io.run_dir is None else Path(run_io.run_dir)
        self.validate = run_io.validate
        self.step, self.train_time, self.samples = 0, 0.0, 0
        self.best_val: float | None = None
        self._stream: BatchStream | None = None
        self._sinks: list = []
        self._display: ProgressDisplay | None = None
        self._window: dict[str, float] = {}
        self._window_n = 0

    @property
    def epochs_done(self) -> float:
        return self.step / self.steps_per_epoch

    def eval_weights(self):
        """Context manager: the weights evaluation uses (EMA when enabled)."""
        return self.ema.applied(self.model) if self.ema is not None else nullcontext(self.model)

    def fit(self) -> None:
        """Train from ``self.step`` to ``total_steps``; checkpoint at the end.

        Raises:
            bench.train.step.NonFiniteLossError: on divergence (nothing is saved for that step).
        """
        if self.run_dir is not None and self.world.is_main:
            self._sinks = open_sinks(self.sink_names, self.run_dir, self.run_dir.name, self.step)
        display = ProgressDisplay("train", self.total_steps, self.step, self.world.is_main)
        try:
            with display as self._display:
                while self.step < self.total_steps:
                    result = self.one_step()
                    rate = self.samples / max(self.train_time, 1e-9)
                    display.update(1, f"loss {result['loss']:.4g}  {rate:.1f} structures/s")
                    self._after_step(result)
        finally:
            self.close_stream()
            for sink in self._sinks:
                sink.close()
        self.save_checkpoint()

    def one_step(self) -> dict[str, float]:
        """Take the next training step (batch, lr, ``train_step``, EMA); ``bench perf`` times
        exactly this. Returns train_step's values plus ``"lr"``."""
        start = time.perf_counter()
        batch = self.next_batch().to(self.device)
        lr = self.schedule.apply(self.optimizer, self.step)
        ctx = self.context.at(self.step + 1, self.step / self.total_steps)
        result = train_step(self.train_model, self.method, batch, self.optimizer, ctx)
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        self.samples += int(batch.num_graphs) * self.world.size
        self.train_time += time.perf_counter() - start
        return result | {"lr": lr}

    def next_batch(self) -> Batch:
        """The batch of step ``self.step`` (on CPU) from the batch stream, which is (re)started
        at ``self.step`` when it is not that stream's next step (first call, resume, a step
        set by hand) or the stream is exhausted."""
        stream = self._stream
        if stream is None or not (stream.next_step == self.step < stream.stop):
            self.close_stream()
            steps = range(self.step, max(self.total_steps, self.step + 1))
            pin = self.device.type == "cuda"
            stream = self._stream = BatchStream(self.batches, steps, self.cfg.loader_workers, pin)
        return next(stream)

    def close_stream(self) -> None:
        """Stop the batch stream (its loader workers exit); the next step starts a new one."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _after_step(self, result: dict[str, float]) -> None:
        for key, value in result.items():
            self._window[key] = self._window.get(key, 0.0) + value
        self._window_n += 1
        last = self.step == self.total_steps
        if self.step % self.cfg.log_every == 0 or last:
            mean = {k: v / self._window_n for k, v in self._window.items()}
            self._log(
                {
                    "step": self.step,
                    "epoch": self.epochs_done,
                    "split": "train",
                    **mean,
                    "structures_per_s": self.samples / max(self.train_time, 1e-9),
                    "train_time_s": self.train_time,
                }
            )
            self._window, self._window_n = {}, 0
        epochs, into = divmod(self.step, self.steps_per_epoch)
        every = self.cfg.val_every_epochs
        if self.validate and self.world.is_main and every and into == 0 and epochs % every == 0:
            self._validate()
        if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0 and not last:
            self.save_checkpoint()

    def _validate(self) -> None:
        """Validation metrics (eval weights) logged; ``best.pt`` when force MAE improved."""
        with self.eval_weights() as model:
            metrics = self.validate()
            mae = metrics.get("force_mae_mev_per_a")
            best = mae is not None and (self.best_val is None or mae < self.best_val)
            if best:
                self.best_val = mae
                self._save_best(model)
        self._log({"step": self.step, "epoch": self.epochs_done, "split": "val", **metrics})

    def _save_best(self, model: nn.Module) -> None:
        if self.run_dir is None:
            return
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        write_bytes_atomic(self.run_dir / "checkpoints" / BEST_FILE, buffer.getvalue())

    def _log(self, entry: dict[str, Any]) -> None:
        if self.world.is_main and self._display is not None:
            self._display.line(_plain_line(entry, self.total_steps, self._display.eta_s()))
        if self.run_dir is None or not self.world.is_main:
            return
        with open(self.run_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps(entry) + "\n")
        for sink in self._sinks:
            sink.write(entry)

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimiser, schedule, EMA and the
        random states of every rank (``rng[r]``; a collective under data parallelism)."""
        return {
            "step": self.step,
            "train_time": self.train_time,
            "samples": self.samples,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "world_size": self.world.size,
            "rng": self.world.gather(self._rng_state()),
            "log_window": {"sums": dict(self._window), "n": self._window_n},
            "best_val": self.best_val,
        }

    def _rng_state(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python_rng": random.getstate(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; ConfigError when it was written by another number of
        ranks (its random streams and data slices would not continue exactly)."""
        if state["world_size"] != self.world.size:
            raise ConfigError(
                f"the checkpoint at step {state['step']} was written by "
                f"{state['world_size']} process(es); resume it with as many "
                f"(torchrun --nproc_per_node {state['world_size']}), not "
                f"{self.world.size}"
            )
        self.step, self.train_time = int(state["step"]), float(state["train_time"])
        self.samples = int(state["samples"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        rng = state["rng"][self.world.rank]
        self.generator.set_state(rng["generator"])
        torch.set_rng_state(rng["torch_rng"])
        if rng["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda_rng"])
        random.setstate(_as_python_state(rng["python_rng"]))
        self._window = dict(state["log_window"]["sums"])
        self._window_n = int(state["log_window"]["n"])
        self.best_val = state["best_val"]

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint (rank 0; every rank contributes its random state and waits until
        the file is in place). Returns its path on rank 0, else None."""
        if self.run_dir is None:
            return None
        state = self.state_dict()
        path = None
        if self.world.is_main:
            path = save_checkpoint(
                self.run_dir / "checkpoints", self.step, state, self.cfg.keep_checkpoints
            )
        self.world.barrier()
        return path

    def resume(self) -> bool:
        """Continue from the newest readable checkpoint of ``run_dir`` (every rank reads it);
        drops log lines written after it, or all of them when there is none (a run killed
        before its first checkpoint). Returns False when there is no checkpoint."""
        if self.run_dir is None:
            return False
        found = load_latest(self.run_dir / "checkpoints")
        if found is not None:
            self.load_state_dict(found[1])
        if self.world.is_main:
            _truncate_log(self.run_dir / "log.jsonl", self.step)
        return found is not None


def _as_python_state(state) -> tuple:
    """random.setstate needs tuples; a checkpoint round trip may give lists."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _truncate_log(path: Path, step: int) -> None:
    """Keep only the log entries of steps <= ``step`` (atomically); a line cut short by a
    killed process is dropped."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("step", 0) <= step:
            kept.append(line)
    write_text_atomic(path, "".join(ln + "\n" for ln in kept))


def _plain_line(entry: dict[str, Any], total: int, eta: float | None) -> str:
    """One log entry as a plain progress line: ``step 10/360 epoch 0.08 lr 1e-05 loss 1.2
    ... 14.2 structures/s ETA 4m10s`` (validation lines: ``val ...`` with its metrics)."""
    skip = {"step", "epoch", "split", "structures_per_s", "train_time_s"}
    values = " ".join(
        f"{k} {v:.4g}" for k, v in entry.items() if k not in skip and isinstance(v, int | float)
    )
    head = f"step {entry['step']}/{total} epoch {entry['epoch']:.2f}"
    if entry.get("split") != "train":
        return f"{head} {entry.get('split')} {values}"
    return f"{head} {values} {entry['structures_per_s']:.1f} structures/s ETA {format_seconds(eta)}"
