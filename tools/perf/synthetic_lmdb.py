"""Lazy S2EF LMDB loader at scale: build a synthetic OC20-like LMDB, then time and size the loader.

``build``: ``--n`` structures (default 200,000) in shards of ``--shard-size`` entries, made from
the five shipped OC20 frames (tests/data/oc20_relax, 49 atoms, periodic, FixAtoms) with every
position shifted by a seeded jitter (sigma 0.01 Angstrom, so no two entries are equal) and the
energy shifted by 1e-4 eV per entry index; plus ``n<size>/train/`` per ``--sizes`` entry
holding symlinks to the first shards (the 20k and 200k datasets share files). Written under
``--out`` (use /tmp: about 8 KB per entry, 1.6 GB for 200k; never commit it).

``measure``: for each size and worker count, a fresh Python process opens the dataset with
``bench.data.registry.load_splits`` (split-folder layout: every entry in train, the checksum
cache warm), wraps the train split as ``LazyData`` in a shuffled torch DataLoader
(``Batch.from_data_list``), and reports: the time to open the splits and to the first batch
(from before ``load_splits``), structures/s over the next ``--batches`` batches, resident
memory (VmHWM, RssAnon, RssFile of the main process, RssAnon also right after opening, before
the DataLoader's sampler builds its Python list of the epoch's indices; RssAnon summed over
the workers), and
then the seconds of the normalisation pass a run makes before training. File pages (RssFile)
are the LMDB map as read through the page cache, shared and reclaimable; anonymous memory is
what the loader holds. Writes the record to ``--record`` (JSON).

    python tools/perf/synthetic_lmdb.py build --out /tmp/lmdb-synth
    python tools/perf/synthetic_lmdb.py measure --out /tmp/lmdb-synth \\
        --record results/perf/lmdb-lazy-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FRAMES = ROOT / "tests" / "data" / "oc20_relax" / "random1000156.traj"
#: EquiformerV2 (31M, lambda_E = 4) training throughput, structures per V100-second (paper
#: Table 2, bench/paper_tables/table2.yaml): the fastest paper-size EquiformerV2
PAPER_V100_PER_S = 7.1
#: assumed H100 / V100 training speed-up (an upper estimate: FP32 67 / 15.7 TFLOPS = 4.3x,
#: dense bf16 tensor cores 990 / 125 = 7.9x; the paper gives no H100 number)
H100_OVER_V100 = 10.0
#: the target (results/perf/README.md): the loader sustains this multiple of one GPU's
#: training throughput
TARGET_MULTIPLE = 10.0


def build(out: Path, n: int, shard_size: int, sizes: list[int], seed: int = 0) -> dict:
    """Write the shards and the per-size folders; returns what was written."""
    from bench.data.ase_files import read_ase_file
    from bench.data.s2ef_lmdb import write_s2ef_lmdb
    from bench.data.structure import Structure

    frames = read_ase_file(FRAMES)
    rng = np.random.default_rng(seed)
    (out / "shards").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for k, first in enumerate(range(0, n, shard_size)):
        chunk = []
        for i in range(first, min(n, first + shard_size)):
            s = frames[i % len(frames)]
            jitter = rng.normal(0.0, 0.01, s.pos.shape)
            chunk.append(
                Structure(**{**vars(s), "pos": s.pos + jitter, "energy": s.energy + 1e-4 * i})
            )
        write_s2ef_lmdb(out / "shards" / f"data.{k:04d}.lmdb", chunk)
    shards = sorted((out / "shards").glob("*.lmdb"))
    link_sizes(out, sizes, shard_size)
    return {
        "n": n,
        "shard_size": shard_size,
        "shards": len(shards),
        "build_s": time.perf_counter() - start,
        "bytes": sum(f.stat().st_size for f in shards),
    }


def link_sizes(out: Path, sizes: list[int], shard_size: int) -> None:
    """``out/n<size>/train/``: symlinks to the first shards holding ``size`` entries (the
    published S2EF layout: a train folder of shards)."""
    shards = sorted((out / "shards").glob("*.lmdb"))
    for size in sizes:
        folder = out / f"n{size}" / "train"
        folder.mkdir(parents=True, exist_ok=True)
        for shard in shards[: -(-size // shard_size)]:
            link = folder / shard.name
            if not link.exists():
                link.symlink_to(shard)


def measure_one(folder: Path, workers: int, batch_size: int, batches: int) -> dict:
    """One (dataset, workers) measurement in this process (see the module docstring)."""
    import torch
    from torch.utils.data import DataLoader
    from torch_geometric.data import Batch

    from bench.data.lazy import LazyData
    from bench.data.registry import DatasetSpec, load_splits

    t0 = time.perf_counter()
    split = load_splits(DatasetSpec("oc20", path=folder))
    opened = time.perf_counter() - t0
    anon_open = _memory(os.getpid())["rss_anon_mb"]  # before the DataLoader's sampler list
    loader = DataLoader(
        LazyData(split.train, torch.float32),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=Batch.from_data_list,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    it = iter(loader)
    next(it)
    first = time.perf_counter() - t0
    start, structures = time.perf_counter(), 0
    for _ in range(batches):
        structures += next(it).num_graphs
    elapsed = time.perf_counter() - start
    memory = {
        "main": _memory(os.getpid()),
        "main_rss_anon_after_open_mb": anon_open,
        "workers_rss_anon_mb": sum(_memory(p)["rss_anon_mb"] for p in _children()),
    }
    del it
    return _stats_pass(split.train) | {
        "dataset_structures": sum(map(len, (split.train, split.val, split.test))),
        "train_structures": len(split.train),
        "workers": workers,
        "open_s": opened,
        "first_batch_s": first,
        "batches": batches,
        "batch_size": batch_size,
        "structures_per_s": structures / elapsed,
        "memory": memory,
    }


def _stats_pass(train) -> dict:
    """Seconds of the normalisation pass a run makes before training (bench.data.lazy.bounded
    sample of the train split, bench.data.stats.compute_stats)."""
    from bench.data.lazy import bounded
    from bench.data.stats import compute_stats

    start = time.perf_counter()
    stats = compute_stats(bounded(train))
    return {"stats_pass_s": time.perf_counter() - start, "stats_structures": stats.n_structures}


def _memory(pid: int) -> dict:
    """VmHWM (peak RSS), RssAnon and RssFile of ``pid`` in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024  # kB -> MB
    return {
        "peak_rss_mb": fields["VmHWM"],
        "rss_anon_mb": fields["RssAnon"],
        "rss_file_mb": fields["RssFile"],
    }


def _children() -> list[int]:
    pid = os.getpid()
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def measure(out: Path, sizes: list[int], workers: list[int], batch_size: int, batches: int) -> dict:
    """Every (size, workers) pair in its own process, after timing the checksums of each size
    (:func:`_checksums`, which leaves the cache warm)."""
    runs, sums = [], {}
    for size in sizes:
        sums[str(size)] = _checksums(out / f"n{size}" / "train")
        for w in workers:
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "one",
                    "--folder",
                    str(out / f"n{size}"),
                    "--workers",
                    str(w),
                    "--batch-size",
                    str(batch_size),
                    "--batches",
                    str(batches),
                ],
                check=True,
                capture_output=True,
                text=True,
                env=os.environ | {"PYTHONPATH": str(ROOT)},
            )
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), file=sys.stderr)
    return {"runs": runs, "checksums": sums}


def _checksums(folder: Path) -> dict:
    """Seconds to hash ``folder``'s shards in full, then to get their checksums through the
    cache (bench.data.checksums: filled by the first call, hit by the second)."""
    from bench.data.checksums import sha256_file, sha256_files

    files = sorted(folder.glob("*.lmdb"))
    start = time.perf_counter()
    for f in files:
        sha256_file(f)
    full = time.perf_counter() - start
    sha256_files(files)
    start = time.perf_counter()
    sha256_files(files)
    return {"files": len(files), "full_hash_s": full, "cached_s": time.perf_counter() - start}


def target() -> dict:
    """The issue's loader target, in structures/s per GPU (worker group), and its sums."""
    h100 = PAPER_V100_PER_S * H100_OVER_V100
    return {
        "paper_v100_structures_per_s": PAPER_V100_PER_S,
        "h100_over_v100": H100_OVER_V100,
        "h100_structures_per_s": h100,
        "multiple": TARGET_MULTIPLE,
        "target_structures_per_s": TARGET_MULTIPLE * h100,
        "computation": f"{TARGET_MULTIPLE:g} x {PAPER_V100_PER_S:g} structures/V100-s "
        f"(EquiformerV2 31M, Table 2) x {H100_OVER_V100:g} (H100/V100)",
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--n", type=int, default=200_000)
    b.add_argument("--shard-size", type=int, default=20_000)
    b.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    m = sub.add_parser("measure")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    m.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    m.add_argument("--batch-size", type=int, default=8)
    m.add_argument("--batches", type=int, default=300)
    m.add_argument("--record", type=Path, required=True)
    o = sub.add_parser("one")
    o.add_argument("--folder", type=Path, required=True)
    o.add_argument("--workers", type=int, required=True)
    o.add_argument("--batch-size", type=int, required=True)
    o.add_argument("--batches", type=int, required=True)
    args = p.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(args.out, args.n, args.shard_size, args.sizes)))
    elif args.command == "one":
        print(json.dumps(measure_one(args.folder, args.workers, args.batch_size, args.batches)))
    else:
        record = {
            "kind": "lmdb-lazy-loader",
            "command": " ".join(sys.argv),
            "host": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "load_avg_1m_at_start": os.getloadavg()[0],
            },
            "config": {k: v for k, v in vars(args).items() if k != "record"}
            | {"out": str(args.out)},
            **measure(args.out, args.sizes, args.workers, args.batch_size, args.batches),
            "target": target(),
        }
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(record, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
