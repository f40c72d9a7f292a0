"""Grid expansion and run identity."""

from __future__ import annotations

import hashlib

from bench.matrix import GridPoint, expand, spec_from_dict


def _spec(**kw):
    base = {"backbones": "schnet,equiformer", "methods": "none,dens", "datasets": "rmd17"}
    return spec_from_dict({**base, **kw})


def test_expansion_is_the_full_product_in_order():
    points = expand(_spec(seeds="0,1,2"))
    assert len(points) == 2 * 2 * 3
    assert [(p.backbone, p.method, p.seed) for p in points[:4]] == [
        ("schnet", "none", 0), ("schnet", "none", 1), ("schnet", "none", 2), ("schnet", "dens", 0)]
    assert len({p.run_id() for p in points}) == len(points)


def test_molecules_expand_md17_datasets_only_and_duplicates_collapse():
    points = expand(_spec(backbones="schnet", methods="none", datasets="rmd17,oc20",
                          molecules="aspirin,ethanol", seeds="0,0"))
    assert [(p.dataset, p.molecule) for p in points] == [
        ("rmd17", "aspirin"), ("rmd17", "ethanol"), ("oc20", None)]


def test_every_point_carries_the_shared_settings():
    (point,) = expand(_spec(backbones="schnet", methods="dens", preset="paper",
                            profile="released", max_steps=7, overrides={"train.lr": 0.01}))
    assert (point.preset, point.profile, point.max_steps) == ("paper", "released", 7)
    assert point.overrides == {"train.lr": 0.01}


def test_hash_is_sha256_of_the_canonical_identity():
    point = GridPoint("schnet", "dens", "rmd17", seed=1, molecule="aspirin", max_steps=5,
                      overrides={"b": 2, "a": "x"})
    canonical = ('{"backbone":"schnet","dataset":"rmd17","max_steps":5,"method":"dens",'
                 '"molecule":"aspirin","overrides":{"a":"x","b":2},"preset":"ci","seed":1}')
    expected = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    assert point.config_hash() == expected
    assert point.run_id() == f"schnet_dens_rmd17_aspirin_s1_{expected}"
    assert point.label() == "schnet/dens/rmd17/aspirin/seed1"


def test_hash_depends_on_identity_only():
    point = GridPoint("schnet", "dens", "rmd17", seed=0, overrides={"a": 1, "b": 2})
    same = GridPoint("schnet", "dens", "rmd17", seed=0, overrides={"b": 2, "a": 1})
    assert point.config_hash() == same.config_hash()
    others = [
        GridPoint("schnet", "dens", "rmd17", seed=1, overrides={"a": 1, "b": 2}),
        GridPoint("schnet", "dens", "rmd17", seed=0, overrides={"a": 1, "b": 3}),
        GridPoint("schnet", "dens", "rmd17", seed=0, preset="paper", overrides={"a": 1, "b": 2}),
        GridPoint("schnet", "none", "rmd17", seed=0, overrides={"a": 1, "b": 2}),
    ]
    assert len({p.config_hash() for p in [point, *others]}) == 5
    # where data and results live is not part of the identity
    a = expand(_spec(data_root="/a", results="/r1"))
    b = expand(_spec(data_root="/b", results="/r2", jobs=4, launcher="slurm"))
    assert [p.run_id() for p in a] == [p.run_id() for p in b]
