"""Grid expansion and run identity."""

from __future__ import annotations

import pytest

from bench.config import resolve_config
from bench.errors import ConfigError
from bench.matrix import GridPoint, expand, spec_from_dict
from bench.train.run import default_run_id


def _spec(**kw):
    base = {"backbones": "schnet,equiformer", "methods": "none,dens", "datasets": "rmd17"}
    return spec_from_dict({**base, **kw})


def test_expansion_is_the_full_product_in_order():
    points = expand(_spec(seeds="0,1,2"))
    assert len(points) == 2 * 2 * 3
    assert [(p.backbone, p.method, p.seed) for p in points[:4]] == [
        ("schnet", "none", 0),
        ("schnet", "none", 1),
        ("schnet", "none", 2),
        ("schnet", "dens", 0),
    ]
    assert len({p.run_id() for p in points}) == len(points)


def test_molecules_expand_md17_datasets_only_and_duplicates_collapse():
    points = expand(
        _spec(
            backbones="schnet",
            methods="none",
            datasets="rmd17,oc20",
            molecules="aspirin,ethanol",
            seeds="0,0",
        )
    )
    assert [(p.dataset, p.molecule) for p in points] == [
        ("rmd17", "aspirin"),
        ("rmd17", "ethanol"),
        ("oc20", None),
    ]


def test_every_point_carries_the_shared_settings():
    (point,) = expand(
        _spec(
            backbones="schnet",
            methods="dens",
            preset="paper",
            profile="released",
            max_steps=7,
            overrides={"train.lr": 0.01},
        )
    )
    assert (point.preset, point.profile, point.max_steps) == ("paper", "released", 7)
    assert point.overrides == {"train.lr": 0.01}


def test_run_id_is_bench_runs_id_of_the_resolved_config():
    point = GridPoint(
        "schnet",
        "dens",
        "rmd17",
        seed=1,
        molecule="aspirin",
        max_steps=5,
        overrides={"train.lr": 0.002, "method.params.sigma": 0.05},
    )
    cfg = resolve_config(
        "schnet",
        "dens",
        "rmd17",
        cli={"seed": 1, "data.molecule": "aspirin", "train.max_steps": 5},
        overrides=["method.params.sigma=0.05", "train.lr=0.002"],
    )
    assert point.run_id() == default_run_id(cfg)
    assert point.run_id().startswith("rmd17-aspirin-schnet-dens-ci-s1-")
    assert point.label() == "schnet/dens/rmd17/aspirin/seed1"


def test_run_id_depends_on_the_resolved_config_only():
    point = GridPoint("schnet", "dens", "rmd17", seed=0, overrides={"train.lr": 1e-3})
    # the same value written another way, and overrides in another order, are the same run
    assert (
        point.run_id()
        == GridPoint("schnet", "dens", "rmd17", seed=0, overrides={"train.lr": "1e-3"}).run_id()
    )
    both = {"train.lr": 0.001, "seed": 0}
    flipped = dict(reversed(both.items()))
    assert (
        GridPoint("schnet", "dens", "rmd17", seed=0, overrides=both).run_id()
        == GridPoint("schnet", "dens", "rmd17", seed=0, overrides=flipped).run_id()
    )
    others = [
        GridPoint("schnet", "dens", "rmd17", seed=1, overrides={"train.lr": 1e-3}),
        GridPoint("schnet", "dens", "rmd17", seed=0, overrides={"train.lr": 2e-3}),
        GridPoint("schnet", "dens", "rmd17", seed=0, preset="paper", overrides={"train.lr": 1e-3}),
        GridPoint("schnet", "none", "rmd17", seed=0, overrides={"train.lr": 1e-3}),
    ]
    assert len({p.run_id() for p in [point, *others]}) == 5
    # where data and results live is not part of the identity
    a = expand(_spec(data_root="/a", results="/r1"))
    b = expand(_spec(data_root="/b", results="/r2", jobs=4, launcher="slurm"))
    assert [p.run_id() for p in a] == [p.run_id() for p in b]


def test_a_misspelt_override_fails_when_the_grid_expands():
    with pytest.raises(ConfigError, match="lrr"):
        expand(_spec(overrides={"train.lrr": 0.1}))
