"""Range checks of a resolved RunConfig, so that every bad setting fails when the config is
resolved (``bench run`` and ``bench matrix --dry-run`` alike), before any file is written.

Each check names the dotted key and the bad value:

>>> from bench.config import RunConfig
>>> cfg = RunConfig()
>>> cfg.train.min_lr = -1.0
>>> check_ranges(cfg)
Traceback (most recent call last):
...
bench.errors.ConfigError: config key 'train.min_lr' must be >= 0, got -1.0

Backbone options and method hyper-parameters are checked by their Config dataclasses
(bench/backbones/*, bench/methods/*; bench.config.resolve_components).
"""

from __future__ import annotations

import math
import re
from typing import Any

from bench.errors import ConfigError

#: a run id is a directory name: no separators, no '.' or '..', nothing empty
RUN_ID = re.compile(r"[A-Za-z0-9._-]+")
#: seeds feed numpy and torch generators (both take unsigned 32-bit seeds everywhere)
MAX_SEED = 2**32 - 1


def check_run_id(run_id: str | None) -> None:
    """ConfigError unless ``run_id`` is None or a plain name matching ``[A-Za-z0-9._-]+``
    other than ``.`` and ``..`` (a run id is never a path)."""
    if run_id is None:
        return
    if not RUN_ID.fullmatch(run_id) or run_id in (".", ".."):
        raise ConfigError(
            f"run id must be a name of letters, digits, '.', '_' or '-' (not a "
            f"path, not '.' or '..'), got {run_id!r}"
        )


def check_ranges(cfg) -> None:
    """ConfigError for the first out-of-range setting of ``cfg`` (a RunConfig)."""
    check_run_id(cfg.run_id)
    for key, value, ok, expected in _range_table(cfg):
        if value is not None and not ok(value):
            raise ConfigError(f"config key {key!r} must be {expected}, got {value!r}")


def check_method(cfg) -> None:
    """Build the run's method once (cheap, no tensors) so that a value only the method can
    check (its loss weights) is a ConfigError at resolution time."""
    from bench.methods import METHODS
    from bench.registry import resolve

    try:
        resolve(METHODS, cfg.method.name, "method")(
            cfg.method.params, cfg.loss.lambda_energy, cfg.loss.lambda_force
        )
    except ValueError as exc:
        raise ConfigError(f"method {cfg.method.name!r}: {exc}") from exc


def _range_table(cfg) -> list[tuple[str, Any, Any, str]]:
    """(dotted key, value, predicate, what it must be); None values are not checked."""
    t, d, loss = cfg.train, cfg.data, cfg.loss
    pos_int = (lambda v: v >= 1, ">= 1")
    non_neg = (lambda v: math.isfinite(v) and v >= 0, ">= 0")
    positive = (lambda v: math.isfinite(v) and v > 0, "> 0")
    beta = (lambda v: 0 <= v < 1, "in [0, 1)")
    rows = [
        ("seed", cfg.seed, lambda v: 0 <= v <= MAX_SEED, f"in [0, {MAX_SEED}]"),
        ("train.epochs", t.epochs, *pos_int),
        ("train.max_steps", t.max_steps, *pos_int),
        ("train.lr", t.lr, *positive),
        ("train.min_lr", t.min_lr, *non_neg),
        ("train.warmup_lr", t.warmup_lr, *non_neg),
        ("train.warmup_epochs", t.warmup_epochs, *non_neg),
        ("train.adam_eps", t.adam_eps, *positive),
        ("train.weight_decay", t.weight_decay, *non_neg),
        ("train.betas[0]", t.betas[0] if t.betas else None, *beta),
        ("train.betas[1]", t.betas[1] if len(t.betas) > 1 else None, *beta),
        ("train.loader_workers", t.loader_workers, *non_neg),
        ("data.n_train", d.n_train, *pos_int),
        ("data.n_val", d.n_val, *non_neg),
        ("data.max_structures", d.max_structures, *pos_int),
        ("data.split_seed", d.split_seed, lambda v: 0 <= v <= MAX_SEED, f"in [0, {MAX_SEED}]"),
        ("data.energy_std", d.energy_std, *positive),
        ("data.force_std", d.force_std, *positive),
        ("loss.lambda_energy", loss.lambda_energy, *non_neg),
        ("loss.lambda_force", loss.lambda_force, *non_neg),
    ]
    return rows
