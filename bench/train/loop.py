"""The training loop: a Trainer that steps, logs, validates, checkpoints and resumes exactly.

Everything random is either a pure function of (seed, epoch) (the data order) or saved in
checkpoints (the method's corruption generator, torch's global RNG used by dropout, Python's
RNG), so on CPU a resumed run repeats the uninterrupted one bit for bit.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch_geometric.data import Data

from bench.config import TrainConfig
from bench.train.batches import METHOD_STREAM, EpochBatches, derived_seed
from bench.train.checkpoint import load_latest, save_checkpoint
from bench.train.ema import EMA
from bench.train.optim import build_optimizer
from bench.train.schedule import WarmupCosine
from bench.train.step import train_step
from methods.base import Method


class Trainer:
    """Trains ``model`` with ``method`` on ``train_data`` for ``cfg`` (TrainConfig).

    Args:
        model: a backbone on its device, normalisation already set.
        method: the training regime (methods.base.Method).
        train_data: training structures as PyG ``Data``.
        cfg: optimisation settings. seed: run seed (data order and corruption streams).
        energy_std, force_std: loss normalisation (eV, eV/Angstrom).
        run_dir: where ``log.jsonl`` and ``checkpoints/`` go (None: no files).
        validate: called at epoch ends every ``cfg.val_every_epochs`` epochs (with EMA
            weights when EMA is on); returns metrics logged with ``"split": "val"``.
    """

    def __init__(
        self,
        model: nn.Module,
        method: Method,
        train_data: Sequence[Data],
        cfg: TrainConfig,
        seed: int,
        energy_std: float,
        force_std: float,
        run_dir: str | Path | None = None,
        validate: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.model, self.method, self.cfg = model, method, cfg
        self.energy_std, self.force_std = float(energy_std), float(force_std)
        self.device = next(model.parameters()).device
        self.batches = EpochBatches(train_data, cfg.batch_size, seed, cfg.drop_last)
        self.steps_per_epoch = len(self.batches)
        self.total_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch
        self.optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, tuple(cfg.betas),
                                         cfg.adam_eps)
        self.schedule = WarmupCosine(cfg.lr, cfg.warmup_lr, cfg.min_lr, cfg.warmup_epochs,
                                     self.total_steps / self.steps_per_epoch,
                                     self.steps_per_epoch, cfg.schedule_unit)
        self.ema = EMA(model, cfg.ema_decay) if cfg.ema_decay else None
        self.generator = torch.Generator().manual_seed(derived_seed(seed, METHOD_STREAM))
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.validate = validate
        self.step, self.train_time, self.samples = 0, 0.0, 0
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
        with _ProgressBar(self.total_steps, self.step) as bar:
            while self.step < self.total_steps:
                result = self._one_step()
                bar(result["loss"], self.samples / max(self.train_time, 1e-9))
                self._after_step(result)
        self.save_checkpoint()

    def _one_step(self) -> dict[str, float]:
        start = time.perf_counter()
        epoch, index = divmod(self.step, self.steps_per_epoch)
        batch = self.batches.batch(epoch, index).to(self.device)
        lr = self.schedule.apply(self.optimizer, self.step)
        result = train_step(
            self.model, self.method, batch, self.optimizer, self.generator,
            self.step / self.total_steps, self.energy_std, self.force_std, self.step + 1,
            self.cfg.grad_clip, self.cfg.amp,
        )
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        self.samples += int(batch.num_graphs)
        self.train_time += time.perf_counter() - start
        return result | {"lr": lr}

    def _after_step(self, result: dict[str, float]) -> None:
        for key, value in result.items():
            self._window[key] = self._window.get(key, 0.0) + value
        self._window_n += 1
        last = self.step == self.total_steps
        if self.step % self.cfg.log_every == 0 or last:
            mean = {k: v / self._window_n for k, v in self._window.items()}
            self._log({"step": self.step, "epoch": self.epochs_done, "split": "train", **mean,
                       "structures_per_s": self.samples / max(self.train_time, 1e-9),
                       "train_time_s": self.train_time})
            self._window, self._window_n = {}, 0
        epochs, into = divmod(self.step, self.steps_per_epoch)
        every = self.cfg.val_every_epochs
        if self.validate and every and into == 0 and epochs % every == 0:
            with self.eval_weights():
                metrics = self.validate()
            self._log({"step": self.step, "epoch": self.epochs_done, "split": "val", **metrics})
        if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0 and not last:
            self.save_checkpoint()

    def _log(self, entry: dict[str, Any]) -> None:
        if self.run_dir is None:
            return
        with open(self.run_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps(entry) + "\n")

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimiser, schedule, EMA, RNGs."""
        return {
            "step": self.step, "train_time": self.train_time, "samples": self.samples,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python_rng": random.getstate(),
            "log_window": {"sums": dict(self._window), "n": self._window_n},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.train_time = int(state["step"]), float(state["train_time"])
        self.samples = int(state["samples"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        random.setstate(_as_python_state(state["python_rng"]))
        self._window = dict(state["log_window"]["sums"])
        self._window_n = int(state["log_window"]["n"])

    def save_checkpoint(self) -> Path | None:
        if self.run_dir is None:
            return None
        return save_checkpoint(self.run_dir / "checkpoints", self.step, self.state_dict(),
                               self.cfg.keep_checkpoints)

    def resume(self) -> bool:
        """Continue from the newest readable checkpoint of ``run_dir``; drops log lines written
        after it. Returns False (nothing changed) when there is no checkpoint."""
        found = None if self.run_dir is None else load_latest(self.run_dir / "checkpoints")
        if found is None:
            return False
        self.load_state_dict(found[1])
        _truncate_log(self.run_dir / "log.jsonl", self.step)
        return True


def _as_python_state(state) -> tuple:
    """random.setstate needs tuples; a checkpoint round trip may give lists."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _truncate_log(path: Path, step: int) -> None:
    """Keep only the log entries of steps <= ``step``."""
    if not path.is_file():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("step", 0) <= step]
    path.write_text("".join(ln + "\n" for ln in kept))


class _ProgressBar:
    """A rich progress bar on stderr (loss, structures/s); silent when stderr is not a TTY."""

    def __init__(self, total: int, completed: int) -> None:
        console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
            console=console, disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("train", total=total, completed=completed, info="")

    def __enter__(self) -> Callable[[float, float], None]:
        self.progress.start()

        def update(loss: float, rate: float) -> None:
            info = f"loss {loss:.4g}  {rate:.1f} structures/s"
            self.progress.update(self.task, advance=1, info=info)

        return update

    def __exit__(self, *exc) -> None:
        self.progress.stop()
