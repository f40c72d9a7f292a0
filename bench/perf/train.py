"""Training throughput of several methods side by side in one process (``bench perf``).

One model per arm is built from the same resolved config as ``bench run`` (same init seed;
a DeNS-capable model where the method needs a noise head) and driven by its own
``bench.train.loop.Trainer``. An arm is a method, optionally with switches on (``amp``: bf16
autocast; ``compile``: torch.compile), named ``dens``, ``dens+amp``, ``dens+amp+compile``...
After ``warmup`` steps each, the arms alternate step by step (order reversed every other
step), so every arm sees the same machine load; the timed steps are split into ``repeats``
consecutive blocks, and each block gives one ratio over the same steps: ``time(arm) /
time(baseline)`` (the overheads) and ``time(arm) / time(same method, switches off)`` (the
effect of a switch).
"""

from __future__ import annotations

import inspect
import itertools
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from bench.backbones.registry import BACKBONES
from bench.config import RunConfig, parse_overrides
from bench.perf.clock import StepProbe
from bench.perf.datasets import dataset_options, default_data_root
from bench.perf.flops import count_flops
from bench.perf.memory import PeakMemory
from bench.perf.memory_child import measure_in_child
from bench.perf.profiler import top_ops
from bench.perf.summary import summarize_methods, switch_effects
from bench.registry import resolve
from bench.run_request import RunRequest, override
from bench.train.loop import Trainer
from bench.train.normalization import Normalization
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
#: what ``bench perf`` times under on CPU: the allocator ``bench run`` trains with
TIMING_ALLOCATOR = "the process default (as bench run)"
#: switches an arm can turn on, in the order of arm names (each a TrainConfig flag)
SWITCHES = ("amp", "compile")


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
        profile_top: after timing, profile one more step per arm with torch.profiler and
            keep the ``profile_top`` most expensive operators (0: no profile).
        amp, compile: also measure every method with bf16 autocast / torch.compile on (and
            with both when both are set); the warm-up must cover compilation.
        flop_steps: after timing, count the matrix-multiply FLOPs (bench.perf.flops) of this
            many more steps per arm, on the same batches for every arm: an overhead ratio
            free of timing noise (0: no count).
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
    amp: bool = False
    compile: bool = False
    flop_steps: int = 0

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods must be non-empty and distinct, got {self.methods!r}")
        if min(self.warmup, self.profile_top, self.flop_steps) < 0:
            raise ValueError(
                f"warmup, profile_top and flop_steps must be >= 0, got "
                f"{self.warmup!r}, {self.profile_top!r}, {self.flop_steps!r}"
            )
        if not 1 <= self.repeats <= self.steps:
            raise ValueError(
                f"need 1 <= repeats <= steps, got repeats={self.repeats!r}, steps={self.steps!r}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")

    @property
    def baseline(self) -> str:
        return "none" if "none" in self.methods else self.methods[0]

    def arms(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """``{arm name: (method, switches on)}``: every method with no switch first, then
        with each combination of the requested switches."""
        wanted = [s for s in SWITCHES if getattr(self, s)]
        combos = [c for k in range(len(wanted) + 1) for c in itertools.combinations(wanted, k)]
        return {"+".join((m, *c)): (m, c) for c in combos for m in self.methods}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"methods": list(self.methods), "overrides": list(self.overrides)}


def run_config(opts: TrainBenchOptions, method: str, switches: tuple[str, ...] = ()) -> RunConfig:
    """The ``bench run`` config of ``method`` (with the TrainConfig flags ``switches`` on) for
    this measurement (steps capped, no validation; ``POOL_BATCHES`` batches of training
    structures unless ``--set`` says)."""
    root = Path(opts.data_root) if opts.data_root is not None else default_data_root()
    dataset, fields = dataset_options(opts.dataset, root)
    sets = list(fields.pop("overrides", ()))  # the configured epochs shape the schedule
    sets += [override(f"train.{switch}", True) for switch in switches]
    if opts.batch_size is not None:
        sets.append(override("train.batch_size", opts.batch_size))
    steps = opts.warmup + opts.steps + opts.flop_steps + (opts.profile_top > 0)
    cfg = RunRequest(
        backbone=opts.backbone,
        method=method,
        dataset=dataset,
        preset=opts.preset,
        profile=opts.profile,
        seed=opts.seed,
        device=opts.device,
        max_steps=steps,
        overrides=(*sets, *opts.overrides),
        **fields,
    ).resolve()
    user_data = parse_overrides(list(opts.overrides)).get("data", {})
    for key, value in (
        ("n_train", POOL_BATCHES * cfg.train.batch_size),
        ("n_val", 0),
        ("max_structures", None),
    ):
        if key not in user_data:
            setattr(cfg.data, key, value)
    cfg.train.val_every_epochs = 0
    return cfg


def build_trainer(cfg: RunConfig, split) -> Trainer:
    """A Trainer exactly as ``bench run`` builds it (seeded model init; no run directory)."""
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    norm = Normalization.from_dict(normalization(cfg.data, split.train))
    method = build_run_method(cfg)
    model = build_model(cfg, method, norm)
    return Trainer(model, method, to_data_list(split.train, cfg.dtype), cfg.train, cfg.seed, norm)


def build_arms(opts: TrainBenchOptions) -> tuple[dict[str, RunConfig], Any, dict[str, Trainer]]:
    """``(configs, split, trainers)`` per arm name: the runs ``bench perf`` steps."""
    configs = {a: run_config(opts, m, switches) for a, (m, switches) in opts.arms().items()}
    split = load_split(configs[opts.methods[0]].data)
    return configs, split, {a: build_trainer(cfg, split) for a, cfg in configs.items()}


def run_train_bench(opts: TrainBenchOptions) -> dict[str, Any]:
    """Measure; returns ``{"config": ..., "results": ...}`` for a PerfRecord.

    Steps are timed in this process, under the allocator ``bench run`` trains with. On CPU the
    peak memory comes from a child process with glibc's mmap threshold pinned
    (bench.perf.memory_child: the pin makes the resident peak reproducible and the steps
    1.65-1.8x slower); on CUDA from this process's caching-allocator peaks.
    """
    check_device(opts.device)
    backbone_cls = resolve(BACKBONES, opts.backbone, "backbone")  # fail before loading data
    arms = opts.arms()
    configs, split, trainers = build_arms(opts)  # bad options and data fail here, not there
    child = None
    if opts.device == "cpu":
        child = measure_in_child(opts.to_dict(), torch.get_num_threads())
    probes = {a: StepProbe(t, opts.device) for a, t in trainers.items()}
    memory = PeakMemory(opts.device) if child is None else None
    baseline_mb = memory.current_mb() if memory is not None else child["baseline_mb"]
    samples, peaks, warmup = _alternate(opts, trainers, probes, memory)
    if child is not None:
        peaks = child["peaks"]
    params = {a: sum(p.numel() for p in t.model.parameters()) for a, t in trainers.items()}
    results = summarize_methods(samples, opts.baseline, opts.repeats)
    for a in arms:
        batch = configs[a].train.batch_size
        results["methods"][a] |= {
            "params": params[a],
            "peak_memory_mb": peaks[a],
            "peak_memory_per_structure_mb": (peaks[a] - baseline_mb) / batch,
            "warmup_step_s": warmup[a],
        }
    results["switches"] = switch_effects(samples, arms, opts.repeats)
    if opts.flop_steps:
        results["flops"] = _flops(trainers, opts.flop_steps, opts.baseline)
    if child is None:
        results["memory"] = {
            "scope": memory.scope,
            "baseline_mb": baseline_mb,
            "allocator": "cuda caching allocator",
            "measured_in": "this process, over warm-up and timed steps",
        }
    else:
        results["memory"] = {
            "scope": child["scope"],
            "baseline_mb": baseline_mb,
            "allocator": child["allocator"],
            "measured_in": f"a child process, {child['steps_per_arm']} steps per arm",
            "timing_allocator": TIMING_ALLOCATOR,
        }
    if opts.profile_top:
        results["profile"] = {
            a: top_ops(trainers[a].one_step, opts.profile_top, opts.device) for a in arms
        }
    config = opts.to_dict() | {
        "batch_size": configs[opts.baseline].train.batch_size,
        "n_train": len(split.train),
        "backbone_source": inspect.getfile(backbone_cls),
        "run_configs": {m: cfg.to_dict() for m, cfg in configs.items()},
    }
    return {"config": config, "results": results}


def _flops(trainers: dict, steps: int, baseline: str) -> dict[str, Any]:
    """``{arm: {"per_step": mean matmul FLOPs of ``steps`` more steps, "ratio": per_step /
    the baseline's}}``; the arms take the same batches (same seed and step index)."""
    per_step = {
        a: sum(count_flops(t.one_step) for _ in range(steps)) / steps for a, t in trainers.items()
    }
    return {a: {"per_step": f, "ratio": f / per_step[baseline]} for a, f in per_step.items()}


def alternating(names: list[str], steps: int) -> Iterator[tuple[int, str]]:
    """``(step index, arm)`` in bench perf's order: every arm once per step, in ``names``
    order on even steps and reversed on odd ones, so no arm always runs first."""
    for k in range(steps):
        for a in names if k % 2 == 0 else names[::-1]:
            yield k, a


def _alternate(opts: TrainBenchOptions, trainers: dict, probes: dict, memory: PeakMemory | None):
    """Warm-up then timed steps, arms alternating (order reversed every other step).

    Returns the timed StepProbe samples per arm, each arm's peak memory (MB) over all its
    steps, warm-up included (the first step allocates the optimiser state; all 0.0 when
    ``memory`` is None), and each arm's warm-up step times (s; compilation shows there).
    """
    names = list(trainers)
    samples: dict[str, list[dict[str, float]]] = {a: [] for a in names}
    peaks = dict.fromkeys(names, 0.0)
    warmup: dict[str, list[float]] = {a: [] for a in names}
    for k, a in alternating(names, opts.warmup + opts.steps):
        if memory is not None:
            memory.reset()
        sample = probes[a].step(trainers[a].one_step)
        if memory is not None:
            peaks[a] = max(peaks[a], memory.peak_mb())
        if k >= opts.warmup:
            samples[a].append(sample)
        else:
            warmup[a].append(sample["total"])
    return samples, peaks, warmup
