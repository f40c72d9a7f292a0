"""Optional log sinks: CSV in long format (truncated on resume), checked names, TensorBoard."""

from __future__ import annotations

import importlib.util

import pytest

from bench.errors import ConfigError
from bench.train.sinks import CSV_FILE, check_sinks, open_sinks

ENTRIES = [
    {"step": s, "epoch": s / 2, "split": "train", "loss": float(s), "lr": 1e-3} for s in (1, 2, 3)
]


def test_csv_sink_writes_long_rows_and_drops_rows_after_the_resumed_step(tmp_path):
    (sink,) = open_sinks(("csv",), tmp_path, "run", 0)
    for entry in ENTRIES:
        sink.write(entry)
    sink.write({"step": 2, "epoch": 1.0, "split": "val", "force_mae_mev_per_a": 12.5})
    rows = (tmp_path / CSV_FILE).read_text().splitlines()
    assert rows[0] == "step,epoch,split,name,value"
    assert "2,1.0,val,force_mae_mev_per_a,12.5" in rows and len(rows) == 1 + 3 * 2 + 1
    open_sinks(("csv",), tmp_path, "run", 2)  # resume at step 2
    steps = {r.split(",")[0] for r in (tmp_path / CSV_FILE).read_text().splitlines()[1:]}
    assert steps == {"1", "2"}


def test_unknown_sink_and_missing_package_are_config_errors():
    with pytest.raises(ConfigError, match="Did you mean 'csv'"):
        check_sinks(["cvs"])
    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(ConfigError, match="needs the 'wandb' package"):
            check_sinks(["wandb"])


def test_tensorboard_sink_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    (sink,) = open_sinks(("tensorboard",), tmp_path, "run", 0)
    for entry in ENTRIES:
        sink.write(entry)
    sink.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
