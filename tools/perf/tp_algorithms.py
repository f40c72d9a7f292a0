"""Which DepthwiseTensorProduct algorithm is faster at which width: the evidence behind
``bench.backbones.layers.tensor_product.PATHS_MIN_MUL``.

For each channel count, two Equiformer (Lmax 2, md17) trainers are built exactly as ``bench
perf`` builds them (same seed, same batches), one with every tensor product on ``"paths"``,
one on ``"blocks"``; their training steps (forward, gradient forces, backward, AdamW)
alternate in one process, order reversed every other step, after one untimed step each. The
record holds each side's median step time and the ratio paths / blocks per width; the preset
sets everything but the width (``study``: 2 blocks, 4 heads, paper ratios).

    python tools/perf/tp_algorithms.py --channels 16,32,64,128 --steps 6 --threads 1 \\
        --output results/perf/tensor-product/equiformer-md17-1thread.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

import bench.backbones.layers.tensor_product as tp
from bench.io import write_json_atomic
from bench.perf.env import environment, load_average
from bench.perf.train import TrainBenchOptions, alternating, build_trainer, run_config
from bench.train.setup import load_split

ALGORITHMS = ("paths", "blocks")


def trainers(preset: str, channels: int, batch_size: int) -> dict:
    """``{algorithm: Trainer}``: the same run with every tensor product on one algorithm."""
    sets = ("train.warmup_epochs=0", f"model.options.channels={channels}")
    opts = TrainBenchOptions(
        backbone="equiformer", preset=preset, methods=("none",), batch_size=batch_size,
        steps=1, warmup=0, repeats=1, overrides=sets,
    )  # fmt: skip
    cfg = run_config(opts, "none")
    split = load_split(cfg.data)
    built = {}
    default = tp.PATHS_MIN_MUL
    for name, threshold in (("paths", 0), ("blocks", sys.maxsize)):
        tp.PATHS_MIN_MUL = threshold
        try:
            built[name] = build_trainer(cfg, split)
        finally:
            tp.PATHS_MIN_MUL = default
        used = {
            m.algorithm
            for m in built[name].model.modules()
            if isinstance(m, tp.DepthwiseTensorProduct)
        }
        assert used == {name}, used
    return built


def time_pair(built: dict, steps: int) -> dict[str, float]:
    """Median seconds per training step of each side, alternating."""
    for t in built.values():
        t.one_step()
    times: dict[str, list[float]] = {n: [] for n in built}
    for _, name in alternating(list(ALGORITHMS), steps):
        start = time.perf_counter()
        built[name].one_step()
        times[name].append(time.perf_counter() - start)
    return {n: sorted(v)[len(v) // 2] for n, v in times.items()}


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", default="16,32,64,128")
    p.add_argument("--preset", default="study")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    env = environment("cpu")
    rows = []
    for channels in (int(c) for c in args.channels.split(",")):
        med = time_pair(trainers(args.preset, channels, args.batch_size), args.steps)
        rows.append(
            {"channels": channels, "step_s": med, "paths_over_blocks": med["paths"] / med["blocks"]}
        )
        print(f"channels {channels}: paths {med['paths']:.3f} s, blocks {med['blocks']:.3f} s, "
              f"paths/blocks {rows[-1]['paths_over_blocks']:.3f}", flush=True)  # fmt: skip
    env["hardware"]["load_avg_1m_end"] = load_average()
    record = {
        "command": "python tools/perf/tp_algorithms.py " + shlex.join(argv),
        "config": vars(args) | {"backbone": "equiformer", "dataset": "md17 aspirin (tests/data)",
                                "paths_min_mul": tp.PATHS_MIN_MUL},
        "results": rows,
        **env,
    }  # fmt: skip
    print(write_json_atomic(Path(args.output).absolute(), record))


if __name__ == "__main__":
    main(sys.argv[1:])
