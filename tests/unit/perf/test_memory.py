"""PeakMemory sees a step's allocation and forgets it after a reset (Linux /proc)."""

from __future__ import annotations

import mmap

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
