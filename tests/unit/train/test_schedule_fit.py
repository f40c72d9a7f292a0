"""A warm-up that cannot fit a step-capped run is rescaled with a warning, or refused."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.train.schedule import WarmupCosine, fit_warmup


def test_a_warmup_that_fits_is_kept():
    assert fit_warmup(2.0, 10, 5.0, "epoch") == (2.0, "epoch", None)


def test_a_warmup_longer_than_the_capped_run_keeps_its_share_per_step():
    # a capped run: paper MD17 warm-up 10 of 1500 epochs, 360 steps of 118.75 per epoch
    run_epochs = 360 / 118.75
    warmup, unit, note = fit_warmup(10.0, 1500, run_epochs, "epoch")
    assert warmup == pytest.approx(10 * run_epochs / 1500) and unit == "step"
    assert "does not fit" in note and "10/1500" in note
    schedule = WarmupCosine(5e-4, 1e-6, 1e-6, warmup, run_epochs, 118, unit)
    assert schedule.lr_at(0) == pytest.approx(1e-6)
    assert schedule.lr_at(10) > 4.9e-4  # warm-up over after ~2.4 steps, not never


def test_a_warmup_longer_than_the_configured_schedule_is_an_error():
    with pytest.raises(ConfigError, match="warmup_epochs 5 does not fit"):
        fit_warmup(5.0, 3, 3.0, "epoch")
