"""Trajectory-level split of ASE trajectory folders: whole trajectories, no leakage."""

from __future__ import annotations

import pytest

from bench.data.registry import DatasetSpec, load_splits
from bench.data.trajectory_split import assign_trajectories, split_names, trajectory_split
from bench.errors import ConfigError, DataError


def _traj(s) -> str:
    return s.id.split(":")[0]


def _spec(path, **kw) -> DatasetSpec:
    return DatasetSpec(name="ase", path=path, split_by="trajectory", **kw)


def test_whole_trajectories_and_no_leakage(traj_folder):
    splits = load_splits(_spec(traj_folder, n_train=3, n_val=1, split_seed=4))
    groups = {name: {_traj(s) for s in getattr(splits, name)} for name in ("train", "val", "test")}
    assert [len(g) for g in groups.values()] == [3, 1, 2]
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["val"]
    assert not groups["val"] & groups["test"]
    assert set().union(*groups.values()) == {f"t{t}.traj" for t in range(6)}
    for name in ("train", "val", "test"):  # every frame of every trajectory, in file order
        ids = [s.id for s in getattr(splits, name)]
        assert ids == [
            f"{t}:{k}" for t in dict.fromkeys(map(_traj, getattr(splits, name))) for k in range(3)
        ]
    assert splits.periodic and splits.train[0].fixed.sum() == 36


def test_early_frames_cut_train_only(traj_folder):
    full = load_splits(_spec(traj_folder, n_train=3, n_val=1))
    early = load_splits(_spec(traj_folder, n_train=3, n_val=1, early_frames=2))
    assert [s.id for s in early.train] == [s.id for s in full.train if s.id[-1] in "01"]
    assert [s.id for s in early.test] == [s.id for s in full.test]
    assert [s.id for s in early.val] == [s.id for s in full.val]


def test_split_is_a_pure_function_of_names_sizes_and_seed():
    names = [f"r{i}.traj" for i in range(24)]
    a = assign_trajectories(names, 18, 2, seed=1)
    assert a == assign_trajectories(names, 18, 2, seed=1)
    assert a != assign_trajectories(names, 18, 2, seed=2)
    assert sorted(a.values()).count("test") == 4
    train, val, test = split_names(names, None, None, 1)  # default 80 % / 10 %, rounded down
    assert (len(train), len(val), len(test)) == (19, 2, 3)


def test_trajectory_split_on_in_memory_groups():
    trajs = {"a": [1, 2, 3], "b": [4, 5], "c": [6]}
    train, val, test = trajectory_split(trajs, 1, 1, seed=0, early_frames=1)
    assigned = assign_trajectories(list(trajs), 1, 1, seed=0)
    (tr,) = [k for k, v in assigned.items() if v == "train"]
    (te,) = [k for k, v in assigned.items() if v == "test"]
    assert train == trajs[tr][:1] and test == trajs[te]


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"split_by": "molecule"}, ConfigError, "split_by"),
        ({"split_by": "trajectory", "early_frames": 0}, ConfigError, "early_frames"),
        ({"split_by": "frame", "early_frames": 2}, ConfigError, "early_frames"),
        ({"split_by": "trajectory", "n_train": 6, "n_val": 1}, DataError, "only 6"),
    ],
)
def test_bad_options_are_errors(traj_folder, kw, error, match):
    with pytest.raises(error, match=match):
        load_splits(DatasetSpec(name="ase", path=traj_folder, **kw))


def test_trajectory_split_is_refused_for_other_readers(tmp_path):
    with pytest.raises(ConfigError, match="ase reader only"):
        load_splits(DatasetSpec(name="rmd17", data_root=tmp_path, split_by="trajectory"))
