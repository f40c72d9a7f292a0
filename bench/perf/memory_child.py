"""Peak CPU memory of ``bench perf``'s arms, measured in a child process (``python -m
bench.perf.memory_child``, options as JSON on stdin, one JSON line on stdout).

Why a child: a reproducible resident peak needs glibc's mmap threshold pinned
(bench.perf.memory.fix_allocator), and a pinned threshold makes every large tensor an
mmap/munmap pair, which slowed a training step 1.65-1.8x (Equiformer, study and paper presets,
8 aspirin, 1 thread). ``bench run`` trains under glibc's default, so ``bench perf`` times under
the default in its own process and measures memory here, where the pin is set before any
tensor exists. The child builds the same arms from the same options (same seeds, same
batches) and takes ``warmup + 1`` steps per arm in the parent's alternating order; each arm's
peak covers all of them (the first step allocates the optimiser state).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

#: the module a parent runs as its memory child
CHILD = "bench.perf.memory_child"


def measure_in_child(opts_dict: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run the child on ``opts_dict`` (``TrainBenchOptions.to_dict()``) with ``threads`` torch
    threads; returns its ``{"peaks": {arm: MB}, "baseline_mb", "scope", "allocator",
    "steps_per_arm"}``.

    Raises:
        RuntimeError: the child failed (its last stderr line is in the message).
    """
    out = subprocess.run(
        [sys.executable, "-m", CHILD],
        input=json.dumps({"options": opts_dict, "threads": threads}),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"bench perf: the memory child exited {out.returncode}: {tail}")
    return json.loads(lines[-1])


def measure(opts_dict: dict[str, Any], threads: int) -> dict[str, Any]:
    """Pin the allocator, build the arms, step them, return their peaks (see the module)."""
    from bench.perf.memory import PeakMemory, fix_allocator

    allocator = fix_allocator()  # before any tensor of the measurement is allocated
    import torch

    from bench.perf.train import TrainBenchOptions, alternating, build_arms

    torch.set_num_threads(threads)
    opts = TrainBenchOptions(**opts_dict)
    _, _, trainers = build_arms(opts)
    memory = PeakMemory("cpu")
    baseline_mb = memory.current_mb()
    peaks = dict.fromkeys(trainers, 0.0)
    steps = opts.warmup + 1
    for _, a in alternating(list(trainers), steps):
        memory.reset()
        trainers[a].one_step()
        peaks[a] = max(peaks[a], memory.peak_mb())
    return {
        "peaks": peaks,
        "baseline_mb": baseline_mb,
        "scope": memory.scope,
        "allocator": allocator,
        "steps_per_arm": steps,
    }


def main() -> None:
    request = json.load(sys.stdin)
    print(json.dumps(measure(request["options"], request["threads"])))


if __name__ == "__main__":
    main()
