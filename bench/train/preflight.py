"""Checks made before a run trains: room on disk for its checkpoints, so a full disk is one
clear error naming the results directory instead of a crash at the first checkpoint.

(That the directory can be created and written is checked when the run writes its inputs,
bench.train.run, also before training.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from torch import nn

from bench.config import TrainConfig
from bench.errors import ConfigError

#: room kept for logs, the record and stats, bytes
MARGIN_BYTES = 16 * 2**20


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
    """ConfigError naming ``run_dir`` (which must exist) when its file system has less than
    ``need_bytes`` free."""
    free = shutil.disk_usage(run_dir).free
    if free < need_bytes:
        raise ConfigError(f"{run_dir}: results directory has {free / 2**20:.1f} MiB free, the "
                          f"run needs about {need_bytes / 2**20:.1f} MiB (checkpoints, final "
                          f"weights, logs); free space or pass another --results")
