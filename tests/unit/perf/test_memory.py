"""PeakMemory sees a step's allocation and forgets it after a reset (Linux /proc); with the
allocator pinned (in a child interpreter), freed tensors leave the resident set."""

from __future__ import annotations

import json
import mmap
import subprocess
import sys

import pytest

from bench.perf.memory import PeakMemory, current_rss_mb


def test_peak_covers_a_transient_allocation_and_resets():
    mem = PeakMemory("cpu")
    if mem.scope != "step":
        pytest.skip("no resettable peak RSS on this platform")
    mem.reset()
    before = mem.peak_mb()
    # A fresh anonymous mapping, every page touched: new resident pages whatever the
    # allocator already holds (a numpy array could reuse freed, still-resident memory).
    size = 40 * 2**20
    with mmap.mmap(-1, size) as buf:
        for offset in range(0, size, mmap.PAGESIZE):
            buf[offset] = 1
    assert mem.peak_mb() >= before + 35
    mem.reset()
    assert mem.peak_mb() < before + 35
    assert mem.current_mb() == pytest.approx(current_rss_mb(), rel=0.1)


def test_rejects_unknown_device():
    with pytest.raises(ValueError, match="'tpu'"):
        PeakMemory("tpu")


#: run in a fresh interpreter: a pinned threshold cannot be unpinned, and it slows every later
#: training step of the process (bench.perf.memory_child)
PROBE = """
import json, sys, torch
from bench.perf.memory import current_rss_mb, fix_allocator
allocator = fix_allocator() if sys.argv[1] == "pin" else "default"
before, live = current_rss_mb(), []
for _ in range(6):  # glibc's adaptive threshold puts the later blocks in the heap,
    block = torch.ones(4 * 2**20)  # 16 MB, every page touched,
    live.append(torch.ones(1000))  # where a small live block behind each one pins them
    del block
print(json.dumps({"allocator": allocator, "growth_mb": current_rss_mb() - before}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_pinned_allocator_returns_freed_tensors_to_the_system():
    pinned = _probe("pin")
    if not pinned["allocator"].startswith("glibc") or PeakMemory("cpu").scope != "step":
        pytest.skip(f"no glibc mallopt or /proc here ({pinned['allocator']})")
    assert pinned["growth_mb"] < 8  # measured 1.5 MB: the small blocks
    # glibc's default keeps at least one 16 MB block resident (measured 17, 65 or 81 MB)
    assert _probe("default")["growth_mb"] > 12
