import numpy as np
import pytest

from bench.data.registry import DatasetSpec, load_splits
from bench.data.units import KCAL_PER_MOL_TO_EV
from bench.errors import ConfigError, DataError


def _spec(root, **kw):
    kw = {"molecule": "aspirin", "n_train": 100, "n_val": 20, **kw}
    return DatasetSpec("rmd17", data_root=root, **kw)


def _old_indices(root, mol="aspirin"):
    files = sorted((root / "rmd17").glob(f"rmd17_{mol}_*.npz"))
    return [int(i) for f in files for i in np.load(f)["old_indices"]]


def test_original_labels_dedupe_by_old_indices(data_dir):
    splits = load_splits(_spec(data_dir))
    frames = splits.train + splits.val + splits.test
    all_old = _old_indices(data_dir)
    assert len(all_old) == 298 and len(set(all_old)) == 265  # 33 rows repeat across files
    olds = [s.info["old_index"] for s in frames]
    assert sorted(olds) == sorted(set(all_old))
    # split order is the seeded permutation of the unique frames sorted by old_index
    perm = np.random.default_rng(1).permutation(265)
    assert olds[:100] == [sorted(set(all_old))[i] for i in perm[:100]]


def test_original_labels_are_old_md17_labels_in_ev(data_dir):
    s = load_splits(_spec(data_dir)).train[0]
    for f in sorted((data_dir / "rmd17").glob("rmd17_aspirin_*.npz")):
        d = np.load(f)
        rows = np.flatnonzero(d["old_indices"] == s.info["old_index"])
        if rows.size:
            r = rows[0]
            assert s.energy == pytest.approx(d["old_energies"][r] * KCAL_PER_MOL_TO_EV, rel=1e-12)
            np.testing.assert_allclose(s.forces, d["old_forces"][r] * KCAL_PER_MOL_TO_EV)
            assert s.energy != pytest.approx(d["energies"][r] * KCAL_PER_MOL_TO_EV, rel=1e-6)
            return
    pytest.fail("frame not found")


def test_revised_labels_use_official_split_files(data_dir):
    splits = load_splits(_spec(data_dir, labels="revised", n_train=80, n_val=12))
    train = np.load(data_dir / "rmd17" / "rmd17_aspirin_train_01.npz")
    test = np.load(data_dir / "rmd17" / "rmd17_aspirin_test_01.npz")
    assert [s.info["old_index"] for s in splits.test] == test["old_indices"].tolist()
    tv = {s.info["old_index"] for s in splits.train + splits.val}
    assert tv <= set(train["old_indices"].tolist()) and len(tv) == 92
    s = splits.test[3]
    assert s.energy == pytest.approx(test["energies"][3] * KCAL_PER_MOL_TO_EV, rel=1e-12)


def test_conflicting_copies_are_refused(rmd17_root):
    path = rmd17_root / "rmd17" / "rmd17_aspirin_train_02.npz"
    d = dict(np.load(path))
    shared = set(d["old_indices"].tolist()) & set(_old_indices(rmd17_root)[:92])
    row = d["old_indices"].tolist().index(sorted(shared)[0])
    d["old_energies"][row] += 1.0
    np.savez(path, **d)
    with pytest.raises(DataError, match="old_indices.*differs from its copy"):
        load_splits(_spec(rmd17_root))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"molecule": "asprin"}, "Did you mean 'aspirin'"),
        ({"molecule": None}, "no molecule given"),
        ({"labels": "new"}, "field 'labels'"),
        ({"labels": "revised", "split_index": 3}, "rmd17_aspirin_train_03.npz: file not found"),
        ({"molecule": "uracil"}, "no rmd17_uracil_"),
    ],
)
def test_bad_choices_name_the_field(data_dir, kw, match):
    with pytest.raises(DataError, match=match):
        load_splits(_spec(data_dir, **kw))


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(DataError, match="dataset folder not found"):
        load_splits(_spec(tmp_path))


def test_train_subset_is_a_prefix_with_the_same_val_and_test(data_dir):
    full = load_splits(_spec(data_dir))
    part = load_splits(_spec(data_dir, train_subset=30))
    assert [s.info["old_index"] for s in part.train] == [
        s.info["old_index"] for s in full.train[:30]
    ]
    for name in ("val", "test"):
        assert [s.info["old_index"] for s in getattr(part, name)] == [
            s.info["old_index"] for s in getattr(full, name)
        ]


@pytest.mark.parametrize("k", [0, 101])
def test_train_subset_out_of_range_names_the_field(data_dir, k):
    with pytest.raises(ConfigError, match="data.train_subset"):
        load_splits(_spec(data_dir, train_subset=k))
