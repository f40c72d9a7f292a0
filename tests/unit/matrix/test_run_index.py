"""The locked JSONL index: round trips and concurrent writers (no loss, no duplicates)."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from bench.errors import DataError
from bench.matrix import IndexEntry, RunIndex

WRITERS, ENTRIES, SHARED = 4, 30, 5


def test_put_update_read_round_trip(tmp_path):
    index = RunIndex(tmp_path)
    index.put([IndexEntry("a", "queued", {"seed": 0}), IndexEntry("b", "queued")])
    index.update("a", status="failed", failure="non-finite loss at step 3")
    index.update("c", status="running")
    entries = index.read()
    assert list(entries) == ["a", "b", "c"]
    assert entries["a"].failure == "non-finite loss at step 3"
    assert entries["a"].point == {"seed": 0} and entries["a"].updated_at
    assert entries["c"].status == "running"
    with pytest.raises(ValueError, match="unknown index field"):
        index.update("a", colour="red")
    with pytest.raises(ValueError, match="status must be one of"):
        IndexEntry("x", "finished")


def test_corrupt_index_names_file_and_line(tmp_path):
    (tmp_path / "index.jsonl").write_text('{"run_id": "a", "status": "done"}\n{oops\n')
    with pytest.raises(DataError, match=r"index\.jsonl: field 'line 2'"):
        RunIndex(tmp_path).read()


def _writer(folder: str, worker: int) -> None:
    index = RunIndex(folder)
    for i in range(ENTRIES):
        index.update(f"w{worker}-{i}", status="running", note=str(worker))
        index.update(f"shared-{i % SHARED}", status="done", note=str(worker))


def test_concurrent_writers_never_lose_or_duplicate_entries(tmp_path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs)
    lines = (tmp_path / "index.jsonl").read_text().splitlines()
    ids = [json.loads(line)["run_id"] for line in lines]
    expected = {f"w{w}-{i}" for w in range(WRITERS) for i in range(ENTRIES)}
    expected |= {f"shared-{k}" for k in range(SHARED)}
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    entries = RunIndex(tmp_path).read()
    assert all(entries[f"w{w}-{i}"].note == str(w) for w in range(WRITERS) for i in range(ENTRIES))
