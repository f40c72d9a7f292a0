"""Checks made before a run trains, and what a full disk during training becomes.

Before: a training batch that fits the train split, and room on disk for the checkpoints (a
full disk is one clear error naming the results directory instead of a crash at the first
checkpoint). That the directory can be created and written is checked when the run takes
its lock (bench.run_lock), also before training. During: a write that fails with ENOSPC
makes the run ``failed: no space left on device`` and a :class:`DiskFullError` (exit 2).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from torch import nn

from bench.config import TrainConfig
from bench.errors import BenchError, ConfigError

#: room kept for logs, the record and stats, bytes
MARGIN_BYTES = 16 * 2**20
#: the failure reason of a run that hit a full disk
NO_SPACE = "no space left on device"


class DiskFullError(BenchError):
    """A write of the run failed with ENOSPC (the record says so; --resume continues)."""


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` or an exception it was raised from is an ENOSPC OSError."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def check_batch_size(global_batch: int, n_train: int) -> None:
    """ConfigError when a training batch (``train.batch_size`` times the processes) is larger
    than the train split: no full batch could be drawn (it used to be clipped silently)."""
    if global_batch > n_train:
        raise ConfigError(
            f"config key 'train.batch_size' must be at most the train split size "
            f"{n_train} (times the processes), got {global_batch}"
        )


def checkpoint_bytes(model: nn.Module, ema: bool) -> int:
    """Approximate size in bytes of one training checkpoint of ``model``: the weights, the two
    AdamW moments and, with ``ema``, the averaged copy (buffers once per copy of the weights)."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return params * (3 + int(ema)) + buffers * (1 + int(ema))


def required_bytes(model: nn.Module, cfg: TrainConfig) -> int:
    """Disk space a run needs at its peak: ``keep_checkpoints`` checkpoints plus the one being
    written (temp file), the final weights, and :data:`MARGIN_BYTES`."""
    ckpt = checkpoint_bytes(model, bool(cfg.ema_decay))
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return ckpt * (cfg.keep_checkpoints + 1) + weights + MARGIN_BYTES


def check_free_space(run_dir: str | Path, need_bytes: int) -> None:
    """ConfigError naming ``run_dir`` when its file system (that of its nearest existing
    folder) has less than ``need_bytes`` free."""
    folder = Path(run_dir).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise ConfigError(
            f"{run_dir}: results directory has {free / 2**20:.1f} MiB free, the "
            f"run needs about {need_bytes / 2**20:.1f} MiB (checkpoints, final "
            f"weights, logs); free space or pass another --results"
        )
