"""PeakMemory sees a step's allocation and forgets it after a reset (Linux /proc)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.perf.memory import PeakMemory, current_rss_mb


def test_peak_covers_a_transient_allocation_and_resets():
    mem = PeakMemory("cpu")
    if mem.scope != "step":
        pytest.skip("no resettable peak RSS on this platform")
    mem.reset()
    before = mem.peak_mb()
    a = np.ones(40 * 2**20 // 8)  # 40 MB, touched
    del a
    assert mem.peak_mb() >= before + 35
    mem.reset()
    assert mem.peak_mb() < before + 35
    assert mem.current_mb() == pytest.approx(current_rss_mb(), rel=0.1)


def test_rejects_unknown_device():
    with pytest.raises(ValueError, match="'tpu'"):
        PeakMemory("tpu")
