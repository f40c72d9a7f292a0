"""Time the authors' code and dens-bench side by side, interleaved in one process.

    PYTHONPATH=$PWD python3 tools/refbench/refbench.py MODEL [--size paper|reduced]
        [--repeats 3] [--steps 2] [--warmup 1] [--threads 2] [--output FILE]

Both sides are built in this process (same data, same threads); after ``warmup`` untimed
steps each, every repeat times ``steps`` training steps of one side then of the other (order
reversed every other repeat), so each repeat's ratio ours/ref compares steps taken under the
same machine load. Peak resident memory is measured first, per side, in a child process that
builds only that side and takes ``warmup + 1`` steps (its ``VmHWM`` after a reset: one process
per side, so neither side's peak includes the other's model). Writes a ``reference`` perf record
(bench/perf/record.py) to ``results/perf/vs-reference-<MODEL>[-reduced].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import sides
import torch

#: reference checkouts the timings depend on (tools/parity/README.md)
REFERENCES = {
    "md17": "atomicarchitects/equiformer@64cb7866",
    "oc20": "FAIR-Chem/fairchem tag fairchem_core-1.9.0; atomicarchitects/DeNS@e98b7470",
    "pyg": "torch_geometric.nn.models.SchNet",
}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=sorted(sides.MODELS))
    p.add_argument("--size", choices=("paper", "reduced"), default="paper")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=2, help="timed steps per side per repeat")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data-root", default=os.environ.get("DENS_BENCH_DATA", "tests/data"))
    p.add_argument("--output", default=None)
    p.add_argument("--no-memory", action="store_true", help="skip the peak-RSS children")
    p.add_argument("--peak-rss-side", choices=("ref", "ours"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.size == "reduced" and sides.MODELS[args.model].kind != "oc20":
        p.error("--size reduced applies to the OC20 models only")
    if min(args.repeats, args.steps) < 1 or args.warmup < 0:
        p.error("need --repeats >= 1, --steps >= 1, --warmup >= 0")
    return args


def build(args: argparse.Namespace, side: str):
    """(step callable, parameter count) of ``side`` ("ref" or "ours")."""
    spec = sides.MODELS[args.model]
    steps = args.warmup + args.repeats * args.steps  # the most a side takes
    opts = sides.perf_options(spec, args.size, Path(args.data_root).resolve(), steps)
    if side == "ref":
        return sides.reference(spec, args.size, opts)
    return sides.ours(opts)


def peak_rss_child(args: argparse.Namespace) -> None:
    """Build one side, take warmup + 1 steps, print {"peak_rss_mb", "scope", "params"}.

    The resident high-water mark is reset first (bench.perf.memory: ``/proc/self/clear_refs``),
    since Linux carries the parent's ``VmHWM`` / ``ru_maxrss`` across fork and exec.
    """
    from bench.perf.memory import PeakMemory

    memory = PeakMemory("cpu")
    memory.reset()
    step, params = build(args, args.peak_rss_side)
    for _ in range(args.warmup + 1):
        step()
    print(json.dumps({"peak_rss_mb": memory.peak_mb(), "scope": memory.scope, "params": params}))


def peak_rss(args: argparse.Namespace, side: str) -> dict:
    """Run this script as a child measuring ``side`` alone (same model, size, data, threads),
    under glibc's mmap threshold fixed at bench.perf.memory.MMAP_THRESHOLD (glibc's adaptive
    default moved one Equiformer step's peak by up to 2 GB between identical runs)."""
    from bench.perf.memory import MMAP_THRESHOLD

    env = os.environ | {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    cmd = [sys.executable, __file__, args.model, "--size", args.size, "--warmup", str(args.warmup)]
    cmd += ["--threads", str(args.threads), "--data-root", args.data_root, "--peak-rss-side", side]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleave(steps: dict, args: argparse.Namespace) -> dict[str, list[float]]:
    """Per side, the mean step time (s) of each repeat; warm-up steps first, untimed."""
    for _ in range(args.warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {side: [] for side in steps}
    for r in range(args.repeats):
        order = list(steps) if r % 2 == 0 else list(steps)[::-1]
        for side in order:
            start = time.perf_counter()
            for _ in range(args.steps):
                steps[side]()
            times[side].append((time.perf_counter() - start) / args.steps)
    return times


def measure(args: argparse.Namespace) -> dict:
    """{"config", "results"} of a vs-reference record."""
    from bench.perf.memory import MMAP_THRESHOLD
    from bench.perf.stats import summarize

    peaks = {} if args.no_memory else {side: peak_rss(args, side) for side in ("ref", "ours")}
    built = {side: build(args, side) for side in ("ref", "ours")}
    times = interleave({side: b[0] for side, b in built.items()}, args)
    ratios = [o / r for o, r in zip(times["ours"], times["ref"], strict=True)]
    results: dict = {"sides": {}, "ratio": summarize(ratios) | {"per_repeat": ratios}}
    for side, (_, params) in built.items():
        results["sides"][side] = {
            "step_time_s": summarize(times[side]) | {"per_repeat": times[side]},
            "params": params,
        }
        if peaks:
            results["sides"][side] |= {
                "peak_rss_mb": peaks[side]["peak_rss_mb"],
                "peak_rss_scope": peaks[side]["scope"],
            }
    if peaks:
        results["peak_rss_ratio"] = peaks["ours"]["peak_rss_mb"] / peaks["ref"]["peak_rss_mb"]
    spec = sides.MODELS[args.model]
    config = vars(args) | {
        "model": args.model,
        "backbone": spec.backbone,
        "method": spec.method,
        "batch_size": spec.batch_size,
        "dataset": spec.kind,
        "preset": spec.preset
        if args.size == "paper"
        else f"{spec.preset}, {sides.REDUCED_LAYERS} blocks",
        "device": "cpu",
        "reference": REFERENCES["pyg" if spec.reference == "pyg" else spec.kind],
        "reference_model": spec.reference,
        "ours_overrides": list(
            sides.perf_options(spec, args.size, Path(args.data_root), 1).overrides
        ),
        "step": "forward, forces, backward, AdamW; interleaved per repeat",
        "peak_rss_allocator": f"glibc, MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}",
    }
    config.pop("peak_rss_side")
    return {"config": config, "results": results}


def main(argv: list[str]) -> None:
    args = parse(argv)
    sides.setup_paths()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.peak_rss_side:
        peak_rss_child(args)
        return
    from bench.perf.env import environment, load_average
    from bench.perf.record import PerfRecord

    env = environment("cpu")
    measured = measure(args)
    env["hardware"]["load_avg_1m_end"] = load_average()
    record = PerfRecord(
        component="reference",
        command="python3 tools/refbench/refbench.py " + shlex.join(argv),
        **measured,
        **env,
    )
    tag = args.model + ("" if args.size == "paper" else "-reduced")
    path = record.write(args.output or f"results/perf/vs-reference-{tag}.json")
    res = measured["results"]
    print(
        path, f"ratio ours/ref {res['ratio']['median']:.3f}", json.dumps(res["ratio"]["per_repeat"])
    )


if __name__ == "__main__":
    main(sys.argv[1:])
