"""``max_structures`` with a trajectory split: whole trajectories spread across each split."""

from __future__ import annotations

from bench.data.registry import DatasetSpec, load_splits
from bench.data.trajectory_split import cap_trajectories, trajectory_split


def test_cap_trajectories_takes_whole_groups_evenly_spaced():
    groups = [[f"{g}{k}" for k in range(3)] for g in "abcdefg"]
    assert cap_trajectories(groups, None) == groups and cap_trajectories(groups, 100) == groups
    picked = cap_trajectories(groups, 9)
    assert picked == [groups[0], groups[3], groups[6]]  # not the first three
    assert cap_trajectories(groups, 8) == [groups[0], groups[6]]
    assert cap_trajectories([list(range(10))], 4) == [[0, 1, 2, 3]]  # one long trajectory, cut
    long = [[(g, k) for k in range(30)] for g in range(10)]  # none fits: first frames of many
    assert cap_trajectories(long, 4) == [long[g][:1] for g in (0, 3, 6, 9)]
    assert cap_trajectories(long[:2], 6) == [long[0][:3], long[1][:3]]
    assert cap_trajectories([], 4) == []


def test_capped_trajectory_split_keeps_trajectories_whole():
    trajs = {f"t{i}": [(i, k) for k in range(2)] for i in range(10)}
    train, val, test = trajectory_split(trajs, 8, 1, seed=0, max_structures=5)
    full, _, _ = trajectory_split(trajs, 8, 1, seed=0)
    assert len(train) == 4 and len(val) == 2 and len(test) == 2
    kept = sorted({i for i, _ in train})
    assert all(sum(1 for i, _ in train if i == t) == 2 for t in kept)  # whole trajectories
    order = list(dict.fromkeys(i for i, _ in full))
    assert [order.index(t) for t in dict.fromkeys(i for i, _ in train)] == [0, 7]


def test_oc20_traj_reader_on_the_shipped_folder(data_dir):
    spec = DatasetSpec(
        "oc20-traj",
        path=data_dir / "byod" / "oc20_trajs",
        n_train=1,
        n_val=1,
        split_by="trajectory",
    )
    split = load_splits(spec)
    names = [{s.id.split(":")[0] for s in getattr(split, k)} for k in ("train", "val", "test")]
    assert all(len(n) == 1 for n in names) and set().union(*names) == {
        "t0.traj",
        "t1.traj",
        "t2.traj",
    }
    assert split.periodic and split.energy_kind == "total"
