"""bench.imports.evaluated: an evaluation lands in an imported run's record, replaces an earlier
one of the same split (sub-splits included) and leaves every other split; a trained run's
record is never touched."""

from __future__ import annotations

import json

from bench.imports.evaluated import IMPORTED, record_evaluation
from bench.records import RECORD_FILE, RunRecord, read_record


def _record(tmp_path, status: str, metrics: dict) -> RunRecord:
    record = RunRecord(
        run_id="r",
        status=status,
        config={},
        seed=0,
        metrics=metrics,
        scale={"imported_from": {"file": "/x/eq2_dens_allmd.pt"}},
    )
    record.write(tmp_path)
    return record


def test_replaces_the_split_and_keeps_the_others(tmp_path):
    old = {
        "val": {"energy_mae_mev": 1.0},
        "val/id": {"energy_mae_mev": 2.0},
        "test": {"energy_mae_mev": 3.0},
    }
    _record(tmp_path, IMPORTED, old)
    new = {"val": {"energy_mae_mev": 5.0}, "val/ood": {"energy_mae_mev": 6.0}}
    path = record_evaluation(tmp_path, "val", new, {"dataset": "oc22", "n_structures": 7})
    rec = read_record(tmp_path)
    assert path == tmp_path / RECORD_FILE and rec.status == IMPORTED
    assert rec.metrics == {"test": old["test"], **new}
    evaluated = rec.scale["evaluated"]["val"]
    assert (evaluated["dataset"], evaluated["n_structures"]) == ("oc22", 7)
    assert evaluated["evaluated_at"].endswith("+00:00")
    assert rec.scale["imported_from"]["file"] == "/x/eq2_dens_allmd.pt"


def test_trained_run_untouched(tmp_path):
    _record(tmp_path, "done", {"test": {"energy_mae_mev": 3.0}})
    before = (tmp_path / RECORD_FILE).read_text()
    assert record_evaluation(tmp_path, "test", {"test": {"energy_mae_mev": 9.0}}, {}) is None
    assert (tmp_path / RECORD_FILE).read_text() == before
    assert json.loads(before)["metrics"]["test"]["energy_mae_mev"] == 3.0
