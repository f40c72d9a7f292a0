"""Runs are matched to paper-table cells by their resolved config, never by directory name."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from bench.reports.compare import compare
from bench.reports.match import match_run, run_scale, same_value
from bench.reports.paper import load_table
from bench.reports.runs import MISSING, Run


def by_name(runs, name) -> Run:
    return next(r for r in runs if r.name == name)


def with_config(run: Run, **changes) -> Run:
    """A copy of ``run`` whose config has ``section__key=value`` changed."""
    config = copy.deepcopy(run.config)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = config
        for part in parents:
            node = node[part]
        node[leaf] = value
    return dataclasses.replace(run, record=dataclasses.replace(run.record, config=config))


def rows_of(table, runs) -> dict[str, set[str]]:
    """row id -> names of the runs in any of its groups."""
    return {r.row.id: {n for g in r.groups for n in g.runs} for r in compare(table, runs).rows}


def test_only_finished_runs_are_loaded(runs):
    names = {r.name for r in runs}
    assert len(runs) == 14 and "ci/failed" not in names


def test_config_values_come_from_the_resolved_config(runs):
    seed0 = by_name(runs, "md17/aspirin/equiformer-none-seed0")
    copy_ = by_name(runs, "md17/aspirin/equiformer-none-seed0-copy")
    dens = by_name(runs, "ci/dens-aspirin")
    assert seed0.value("lmax") == 2  # not in model.options: from the paper preset
    assert copy_.value("lmax") == 3  # model.options.lmax
    assert (dens.value("p_dens"), dens.value("corrupt_ratio")) == (0.25, 0.25)  # method.params
    assert seed0.value("lambda_energy") == 1.0 and seed0.value("dataset") == "md17"
    assert seed0.value("no_such_key") is MISSING


def test_runs_differing_in_one_hyper_parameter_land_in_different_rows(runs):
    rows = rows_of(load_table("4"), runs)
    seeds = {f"md17/aspirin/equiformer-none-seed{i}" for i in range(3)}
    assert seeds <= rows["equiformer_l2"]
    # named like seed 0 but built with lmax 3: the name is never looked at
    assert rows["equiformer_l3"] == {"md17/aspirin/equiformer-none-seed0-copy"}
    assert "md17/aspirin/equiformer-none-seed0-copy" not in rows["equiformer_l2"]
    assert rows["equiformer_l2_dens"] == {"ci/dens-aspirin", "rmd17/dens-aspirin"}
    assert rows["equiformer_l3_dens"] == set()
    assert rows["dimenet"] == set()


def test_directory_names_do_not_matter(runs):
    seed1 = by_name(runs, "md17/aspirin/equiformer-none-seed1")
    renamed = dataclasses.replace(seed1, run_dir=seed1.root / "equiformer-lmax3-dens-benzene")
    assert rows_of(load_table("4"), [renamed])["equiformer_l2"] == {"equiformer-lmax3-dens-benzene"}


def test_rmd17_with_original_labels_stands_in_for_md17_and_says_so(runs):
    table = load_table("4")
    row = next(r for r in table.rows if r.id == "equiformer_l2_dens")
    run = by_name(runs, "rmd17/dens-aspirin")
    match = match_run(run, {**row.match, "molecule": "aspirin"}, {})
    assert match is not None and "original MD17 labels" in match.data_note
    scale = run_scale(run, match.data_note)
    assert not scale.paper and "rMD17" in scale.label
    revised = with_config(run, data__labels="revised")
    assert match_run(revised, {**row.match, "molecule": "aspirin"}, {}) is None


def test_md17_dens_rows_take_only_the_authors_encoded_force_unit(runs):
    """A DeNS run that encoded eV/A forces (or a record from before the key) is another
    experiment than the paper's, whose code encodes kcal/mol/A."""
    run = by_name(runs, "rmd17/dens-aspirin")
    params = run.config["method"]["params"]
    ev = with_config(run, method__params__encoded_force_unit="eV/A")
    old = with_config(
        run, method__params={k: v for k, v in params.items() if k != "encoded_force_unit"}
    )
    renamed = [dataclasses.replace(r, run_dir=r.root / n) for r, n in ((ev, "ev"), (old, "old"))]
    assert rows_of(load_table("6"), [run, *renamed])["dens"] == {run.name}


def test_segnn_like_rows_take_only_the_papers_uniform_initialisation(runs):
    """Paper v1 D.2 trains the variant with uniform weights; a normal-init run, or a record
    from before ``weight_init`` (built normal, whatever the preset says today), is another
    experiment."""
    base = by_name(runs, "rmd17/dens-aspirin")
    segnn = {"model__backbone": "segnn"}
    options = base.config["model"]["options"]
    uniform = with_config(base, **segnn, model__options={**options, "weight_init": "uniform"})
    normal = with_config(base, **segnn, model__options={**options, "weight_init": "normal"})
    old = with_config(base, **segnn, model__options={k: v for k, v in options.items()})
    assert (
        "weight_init" not in old.config["model"]["options"] and old.value("weight_init") == "normal"
    )
    named = [
        dataclasses.replace(r, run_dir=r.root / n)
        for r, n in ((uniform, "u"), (normal, "n"), (old, "o"))
    ]
    assert rows_of(load_table("5"), named)["segnn_dens"] == {named[0].name}


def test_table_defaults_fill_keys_the_config_does_not_set(runs):
    table = load_table("5")
    seed0 = by_name(runs, "md17/aspirin/equiformer-none-seed0")
    no_attention = with_config(seed0, model__options={"attention": False})
    rows = rows_of(table, [seed0, no_attention])
    assert rows["equiformer"] == {seed0.name}  # attention, layer_norm unset: defaults true
    assert rows["no_attention"] == {no_attention.name}


@pytest.mark.parametrize(
    ("key", "want", "got", "expected"),
    [
        ("lmax", 2, 2, True),
        ("sigma", 0.05, 0.05 * (1 + 1e-12), True),
        ("sigma", 0.05, 0.0501, False),
        ("attention", True, 1, False),
        ("attention", False, False, True),
        ("molecule", "salicylic", "salicylic_acid", True),
        ("method", "dens", "none", False),
        ("molecule", "aspirin", MISSING, False),
        ("molecule", None, None, True),
    ],
)
def test_same_value(key, want, got, expected):
    assert same_value(key, want, got) is expected


def test_profile_dependent_rows_group_runs_by_profile(runs):
    table = load_table("4")
    result = next(r for r in compare(table, runs).rows if r.row.id == "equiformer_l2_dens")
    profiles = {g.runs: (g.profile, g.reference) for g in result.groups}
    assert profiles == {
        ("ci/dens-aspirin",): ("released", "released"),
        ("rmd17/dens-aspirin",): ("paper-v1", "paper-v1"),
    }
    only = next(r for r in compare(table, runs, "released").rows if r.row.id == result.row.id)
    assert [g.runs for g in only.groups] == [("ci/dens-aspirin",)]
    # a `none` row takes runs of any profile
    base = next(r for r in compare(table, runs, "released").rows if r.row.id == "equiformer_l2")
    assert sum(len(g.runs) for g in base.groups) == 4


def test_old_records_without_a_preset_give_missing_options():
    """runs.preset_options is bench.backbone_presets.preset_config (one preset reader, no
    torch import), {} where a record names a preset or kind that does not exist."""
    from bench.backbone_presets import preset_config
    from bench.reports.runs import preset_options

    assert preset_options("equiformer", "paper", "md17") == preset_config("equiformer", "paper")
    assert preset_options("equiformer", "paper", "no-such-kind") == {}
    assert preset_options("no-such-backbone", "paper", "md17") == {}
