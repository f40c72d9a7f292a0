"""Training throughput of several methods side by side in one process (``bench perf``).

One model per method is built from the same resolved config as ``bench run`` (same init seed;
a DeNS-capable model where the method needs a noise head) and driven by its own
``bench.train.loop.Trainer``. After ``warmup`` steps each, the methods alternate step by step
(order reversed every other step), so every method sees the same machine load; the timed
steps are split into ``repeats`` consecutive blocks, and each block gives one overhead ratio
``time(method) / time(baseline)`` over the same steps.
"""

from __future__ import annotations

import inspect
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from backbones.registry import BACKBONES
from bench.config import RunConfig, parse_overrides, resolve_config
from bench.perf.clock import StepProbe
from bench.perf.datasets import dataset_options, default_data_root
from bench.perf.memory import PeakMemory
from bench.perf.profiler import top_ops
from bench.perf.summary import summarize_methods
from bench.registry import resolve
from bench.train.loop import Trainer
from bench.train.setup import (
    build_model,
    build_run_method,
    check_device,
    load_split,
    normalization,
    to_data_list,
)

#: distinct training structures per perf run, as a multiple of the batch size
POOL_BATCHES = 4


@dataclass
class TrainBenchOptions:
    """What ``bench perf --component train`` measures.

    Args:
        backbone: registry name. methods: regimes to compare; the first of ``none`` (if
            present) or ``methods[0]`` is the baseline of the overhead ratios.
        dataset: perf shortcut (bench.perf.datasets) or bench dataset name.
        preset, profile: as for ``bench run``. batch_size: None keeps the profile's.
        steps: timed steps per method (>= repeats); warmup: untimed steps per method first.
        repeats: blocks the timed steps are split into (one overhead ratio each).
        device: "cpu" or "cuda". seed: init / data-order / corruption seed.
        data_root: None is the shipped subset (tests/data). overrides: ``--set`` strings.
        profile_top: after timing, profile one more step per method with torch.profiler and
            keep the ``profile_top`` most expensive operators (0: no profile).
    """

    backbone: str
    methods: tuple[str, ...] = ("none", "dens")
    dataset: str = "md17-aspirin"
    preset: str = "ci"
    profile: str = "paper-v1"
    batch_size: int | None = None
    steps: int = 40
    warmup: int = 5
    repeats: int = 5
    device: str = "cpu"
    seed: int = 0
    data_root: str | None = None
    overrides: tuple[str, ...] = ()
    profile_top: int = 0

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods must be non-empty and distinct, got {self.methods!r}")
        if self.warmup < 0 or self.profile_top < 0:
            raise ValueError(f"warmup and profile_top must be >= 0, got {self.warmup!r}, "
                             f"{self.profile_top!r}")
        if not 1 <= self.repeats <= self.steps:
            raise ValueError(f"need 1 <= repeats <= steps, got repeats={self.repeats!r}, "
                             f"steps={self.steps!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")

    @property
    def baseline(self) -> str:
        return "none" if "none" in self.methods else self.methods[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"methods": list(self.methods), "overrides": list(self.overrides)}


def run_config(opts: TrainBenchOptions, method: str) -> RunConfig:
    """The ``bench run`` config of ``method`` for this measurement (steps capped, no
    validation; ``POOL_BATCHES`` batches of training structures unless ``--set`` says)."""
    root = Path(opts.data_root) if opts.data_root is not None else default_data_root()
    dataset, cli = dataset_options(opts.dataset, root)
    cli |= {"seed": opts.seed, "device": opts.device, "train.epochs": None,
            "train.max_steps": opts.warmup + opts.steps + (opts.profile_top > 0)}
    if opts.batch_size is not None:
        cli["train.batch_size"] = opts.batch_size
    cfg = resolve_config(opts.backbone, method, dataset, opts.preset, opts.profile, cli,
                         list(opts.overrides))
    user_data = parse_overrides(list(opts.overrides)).get("data", {})
    for key, value in (("n_train", POOL_BATCHES * cfg.train.batch_size), ("n_val", 0),
                       ("max_structures", None)):
        if key not in user_data:
            setattr(cfg.data, key, value)
    cfg.train.val_every_epochs = 0
    return cfg


def build_trainer(cfg: RunConfig, split) -> Trainer:
    """A Trainer exactly as ``bench run`` builds it (seeded model init; no run directory)."""
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    norm = normalization(cfg.data, split.train)
    method = build_run_method(cfg)
    model = build_model(cfg, method, norm)
    return Trainer(model, method, to_data_list(split.train, cfg.dtype), cfg.train, cfg.seed,
                   norm["energy_std"], norm["force_std"])


def run_train_bench(opts: TrainBenchOptions) -> dict[str, Any]:
    """Measure; returns ``{"config": ..., "results": ...}`` for a PerfRecord."""
    check_device(opts.device)
    backbone_cls = resolve(BACKBONES, opts.backbone, "backbone")  # fail before loading data
    configs = {m: run_config(opts, m) for m in opts.methods}
    split = load_split(configs[opts.methods[0]].data)
    trainers = {m: build_trainer(cfg, split) for m, cfg in configs.items()}
    probes = {m: StepProbe(t, opts.device) for m, t in trainers.items()}
    memory = PeakMemory(opts.device)
    baseline_mb = memory.current_mb()
    samples, peaks = _alternate(opts, trainers, probes, memory)
    params = {m: sum(p.numel() for p in t.model.parameters()) for m, t in trainers.items()}
    results = summarize_methods(samples, opts.baseline, opts.repeats)
    for m in opts.methods:
        batch = configs[m].train.batch_size
        results["methods"][m] |= {
            "params": params[m], "peak_memory_mb": peaks[m],
            "peak_memory_per_structure_mb": (peaks[m] - baseline_mb) / batch,
        }
    results["memory"] = {"scope": memory.scope, "baseline_mb": baseline_mb}
    if opts.profile_top:
        results["profile"] = {m: top_ops(trainers[m].one_step, opts.profile_top, opts.device)
                              for m in opts.methods}
    config = opts.to_dict() | {
        "batch_size": configs[opts.baseline].train.batch_size,
        "n_train": len(split.train),
        "backbone_source": inspect.getfile(backbone_cls),
        "run_configs": {m: cfg.to_dict() for m, cfg in configs.items()},
    }
    return {"config": config, "results": results}


def _alternate(opts: TrainBenchOptions, trainers: dict, probes: dict, memory: PeakMemory):
    """Warm-up then timed steps, methods alternating (order reversed every other step).

    Returns the timed StepProbe samples per method and each method's peak memory (MB) over
    all its steps, warm-up included (the first step allocates the optimiser state).
    """
    samples: dict[str, list[dict[str, float]]] = {m: [] for m in opts.methods}
    peaks = dict.fromkeys(opts.methods, 0.0)
    for k in range(opts.warmup + opts.steps):
        for m in opts.methods if k % 2 == 0 else opts.methods[::-1]:
            memory.reset()
            sample = probes[m].step(trainers[m].one_step)
            peaks[m] = max(peaks[m], memory.peak_mb())
            if k >= opts.warmup:
                samples[m].append(sample)
    return samples, peaks
