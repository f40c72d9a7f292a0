"""A stand-in for ``bench run`` that trains nothing: it writes a run directory with the
same layout (config.yaml, command.txt, checkpoints/, metrics.json) so the matrix can be
tested without training. Usage: ``python fake_bench.py run --backbone ... --run-id ID``.

Behaviour by seed (fault injection):
    13  writes a failed record "non-finite loss at step 3", exits 1
    14  prints "error: boom" to stderr, exits 2, leaves the record "running"
    15  writes a checkpoint then kills itself with SIGKILL, unless it resumes a run whose
        record exists
Like ``bench run`` it holds the run's lock (bench.run_lock) and exits 3 when it is taken,
and returns a done run as it is.
Environment: FAKE_SLEEP (seconds per run), FAKE_SCALE (multiplies every metric),
FAKE_FLAT_BACKBONE (that backbone's log.jsonl shows no learning; the others' loss and
force MAE halve from the first epoch to the last).
Metrics are a fixed function of backbone, method and seed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import zlib
from pathlib import Path

from bench.io import write_yaml_atomic
from bench.records import RunRecord, read_record
from bench.run_lock import ALREADY_DONE, RunBusyError, run_lock


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["run"])
    for flag in (
        "--backbone",
        "--method",
        "--dataset",
        "--preset",
        "--molecule",
        "--profile",
        "--device",
        "--data-root",
        "--results",
        "--run-id",
    ):
        p.add_argument(flag)
    for flag in ("--seed", "--max-steps", "--epochs"):
        p.add_argument(flag, type=int)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--resume", action="store_true")
    return p.parse_args(argv)


def fake_metrics(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    key = f"{args.backbone}/{args.method}/{args.seed}".encode()
    base = 10.0 + (zlib.crc32(key) % 1000) / 100.0
    scale = float(os.environ.get("FAKE_SCALE", "1"))
    return {
        split: {
            "energy_mae_mev": scale * base * f,
            "force_mae_mev_per_a": scale * 3 * base * f,
            "n_structures": 7.0,
        }
        for split, f in (("val", 1.0), ("test", 1.1))
    }


def write_log(run_dir: Path, flat: bool) -> None:
    """Two epochs of 2 steps each: train loss 8, 8 then 4, 4 (flat: 8 throughout), val force
    MAE 800 then 400 (flat: 800)."""
    last = 1.0 if flat else 0.5
    entries = [
        {"step": 1, "epoch": 0.5, "split": "train", "loss": 8.0},
        {"step": 2, "epoch": 1.0, "split": "train", "loss": 8.0},
        {"step": 2, "epoch": 1.0, "split": "val", "force_mae_mev_per_a": 800.0},
        {"step": 3, "epoch": 1.5, "split": "train", "loss": 8.0 * last},
        {"step": 4, "epoch": 2.0, "split": "train", "loss": 8.0 * last},
        {"step": 4, "epoch": 2.0, "split": "val", "force_mae_mev_per_a": 800.0 * last},
    ]
    (run_dir / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))


def main(argv: list[str]) -> int:
    args = parse(argv)
    run_dir = Path(args.results) / args.run_id
    try:
        with run_lock(run_dir):
            return train(args, argv, run_dir)
    except RunBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def train(args: argparse.Namespace, argv: list[str], run_dir: Path) -> int:
    """The fake training (see the module docstring) of one locked run directory."""
    resumed = args.resume and (run_dir / "metrics.json").is_file()
    if resumed and read_record(run_dir).status == "done":
        print(f"{run_dir}: {ALREADY_DONE}", file=sys.stderr)
        return 0
    config = {k: v for k, v in vars(args).items() if k not in ("results", "resume", "command")}
    write_yaml_atomic(run_dir / "config.yaml", config)
    (run_dir / "command.txt").write_text(" ".join(argv) + "\n")
    started = time.time()
    record = RunRecord(
        run_id=args.run_id,
        status="running",
        config=config,
        seed=args.seed,
        hardware={
            "threads": os.environ.get("OMP_NUM_THREADS"),
            "resumed": resumed,
            "start": started,
        },
    )
    record.write(run_dir)
    with open(run_dir / "trained.txt", "a") as fh:  # one line per training (tests count them)
        fh.write(f"{os.getpid()}\n")
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "checkpoints" / "step_1.pt").write_bytes(b"fake")
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    if args.seed == 13:
        record.status, record.failure = "failed", "non-finite loss at step 3"
        record.write(run_dir)
        return 1
    if args.seed == 14:
        print("error: boom", file=sys.stderr)
        return 2
    if args.seed == 15 and not resumed:
        os.kill(os.getpid(), signal.SIGKILL)
    write_log(run_dir, args.backbone == os.environ.get("FAKE_FLAT_BACKBONE"))
    record.status, record.metrics = "done", fake_metrics(args)
    record.hardware["end"] = time.time()
    record.write(run_dir)
    print(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
