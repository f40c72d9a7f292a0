"""OC20/OC22 validation and test sub-splits: every sub-split folder is read and named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.ase_files import read_ase_file
from bench.data.oc20_subsplits import subsplit_of
from bench.data.registry import DatasetSpec, load_splits
from bench.data.s2ef_lmdb import write_s2ef_lmdb
from bench.data.structure import Structure
from tests.unit.oc20.conftest import TRAJ

LAYOUT = {"train": [0, 1], "val_id": [2], "val_ood_ads": [3], "val_ood_both": [4, 0]}


@pytest.fixture(scope="module")
def oc20_root(tmp_path_factory) -> Path:
    """train/ + three of the four OC20 val sub-split folders, one LMDB shard each."""
    frames = read_ase_file(TRAJ)
    root = tmp_path_factory.mktemp("oc20")
    for folder, idx in LAYOUT.items():
        (root / folder).mkdir()
        write_s2ef_lmdb(root / folder / "data.0000.lmdb", [frames[i] for i in idx])
    return root


def test_every_subsplit_folder_is_read_into_val_and_named(oc20_root):
    splits = load_splits(DatasetSpec(name="oc20", path=oc20_root))
    assert splits.energy_kind == "referenced" and len(splits.train) == 2
    assert [subsplit_of(s) for s in splits.val] == ["id", "ood_ads", "ood_both", "ood_both"]
    assert [subsplit_of(s) for s in splits.train] == [None, None]


def test_max_structures_applies_per_subsplit_folder(oc20_root):
    splits = load_splits(DatasetSpec(name="oc20", path=oc20_root, max_structures=1))
    assert [subsplit_of(s) for s in splits.val] == ["id", "ood_ads", "ood_both"]


def test_oc22_id_and_ood_folders_for_val_and_test(tmp_path):
    frames = read_ase_file(TRAJ)
    for k, folder in enumerate(("train", "val_id", "val_ood", "test_id", "test_ood")):
        (tmp_path / folder).mkdir()
        write_s2ef_lmdb(tmp_path / folder / "data.lmdb", frames[k : k + 1])
    splits = load_splits(DatasetSpec(name="oc22", path=tmp_path))
    assert splits.energy_kind == "total"
    assert [subsplit_of(s) for s in splits.val] == ["id", "ood"]
    assert [subsplit_of(s) for s in splits.test] == ["id", "ood"]
    assert [s.energy for s in splits.test] == [frames[3].energy, frames[4].energy]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("/data/oc22/s2ef-total/val_ood/data.lmdb", "ood"),
        ("/data/oc20/s2ef/all/val_ood_cat/data.0003.lmdb", "ood_cat"),
        ("/data/is2re/all/test_id/data.lmdb", "id"),
        ("/data/val_id/more/val_ood_ads/x.lmdb", "ood_ads"),  # the nearest folder wins
        ("/data/val_id.lmdb", None),  # a file name is not a folder
        ("/data/oc20/train/data.lmdb", None),
    ],
)
def test_subsplit_from_source_path(source, expected):
    s = Structure(
        z=[1], pos=[[0, 0, 0]], energy=0.0, forces=[[0, 0, 0]], id="x", info={"source": source}
    )
    assert subsplit_of(s) == expected
