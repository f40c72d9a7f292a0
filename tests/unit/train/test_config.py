"""bench.config: every shipped YAML resolves into a valid config; strict keys and types."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from bench.backbones.equiformer import EquiformerConfig
from bench.config import (
    CONFIG_DIR,
    RunConfig,
    is_paper_network,
    is_paper_scale,
    load_yaml,
    network_overrides,
    parse_overrides,
    profiles,
    resolve_config,
)
from bench.errors import ConfigError
from bench.methods import METHODS, build_method
from bench.methods.dens import DeNSConfig


def _cases():
    """(profile, dataset, method, molecule, variant) for every section of every profile."""
    datasets = {"md17": "md17", "oc20": "oc20", "oc22": "oc22"}
    for profile in profiles():
        table = load_yaml(CONFIG_DIR / "profiles" / f"{profile}.yaml")
        for kind, section in table.items():
            molecules = [None, *(section.get("molecules") or {})]
            variants = [None, *(section.get("variants") or {})]
            for method, molecule, variant in itertools.product(METHODS, molecules, variants):
                yield profile, datasets[kind], method, molecule, variant


def test_shipped_profiles_are_the_two_named_ones():
    assert profiles() == ["paper-v1", "released"]


@pytest.mark.parametrize("profile, dataset, method, molecule, variant", list(_cases()))
def test_every_profile_entry_resolves_and_builds_its_method(
    profile, dataset, method, molecule, variant
):
    cli = {"data.molecule": molecule, "variant": variant}
    cfg = resolve_config(
        "schnet", method, dataset, "paper", profile, {k: v for k, v in cli.items() if v is not None}
    )
    build_method(
        method,
        lambda_energy=cfg.loss.lambda_energy,
        lambda_force=cfg.loss.lambda_force,
        **dataclasses.asdict(cfg.method.params),
    )
    assert RunConfig.from_dict(cfg.to_dict()) == cfg  # round trip through config.yaml


def test_md17_profile_values_and_molecule_patches():
    aspirin = resolve_config(
        "equiformer", "dens", "rmd17", "paper", "paper-v1", {"data.molecule": "aspirin"}
    )
    assert (aspirin.train.epochs, aspirin.train.batch_size, aspirin.train.lr) == (1500, 8, 5e-4)
    assert (aspirin.loss.lambda_energy, aspirin.loss.lambda_force) == (1.0, 80.0)
    p = aspirin.method.params
    assert (p.p_dens, p.sigma, p.corrupt_ratio, p.lambda_dens) == (0.25, 0.05, 0.25, 5)
    assert p.lambda_decay == "linear"
    assert (aspirin.data.n_train, aspirin.data.n_val, aspirin.data.split_seed) == (950, 50, 1)
    naph = resolve_config(
        "equiformer", "none", "md17", "paper", "paper-v1", {"data.molecule": "naphthalene"}
    )
    assert (naph.loss.lambda_energy, naph.loss.lambda_force) == (2.0, 20.0)
    v1 = resolve_config(
        "equiformer",
        "denoise-no-force",
        "rmd17",
        "paper",
        "paper-v1",
        {"data.molecule": "salicylic_acid"},
    )
    rel = resolve_config(
        "equiformer",
        "denoise-no-force",
        "rmd17",
        "paper",
        "released",
        {"data.molecule": "salicylic"},
    )
    assert (v1.method.params.p_dens, v1.method.params.sigma) == (0.125, 0.025)
    assert (rel.method.params.p_dens, rel.method.params.sigma) == (0.25, 0.05)
    l3 = resolve_config(
        "equiformer", "dens", "rmd17", "paper-l3", "paper-v1", {"variant": "equiformer-lmax3"}
    )
    assert l3.model.options.lmax == 3 and l3.train.epochs == 2000 and l3.scale == "paper"
    l2 = resolve_config(
        "equiformer", "dens", "rmd17", "paper", "paper-v1", {"variant": "equiformer-lmax3"}
    )
    assert l2.model.options.lmax == 2  # the profile's variant sets training only


def test_oc20_profiles_differ_where_the_spec_says():
    v1 = resolve_config("equiformer-v2", "dens", "oc20", "paper", "paper-v1").method.params
    rel = resolve_config("equiformer-v2", "dens", "oc20", "paper", "released").method.params
    assert v1.multi_scale and v1.sigma_high == 0.5 and v1.p_dens == 0.25
    assert v1.corrupt_ratio == 1.0 and v1.lambda_dens == 10.0
    assert not rel.multi_scale and rel.sigma == 0.1 and rel.p_dens == 0.5
    assert rel.corrupt_ratio == 0.5 and rel.task_draw == "batch"


def test_overrides_and_presets_apply_in_order():
    cfg = resolve_config(
        "equiformer",
        "dens",
        "rmd17",
        "ci",
        "paper-v1",
        {"train.epochs": 7, "seed": 3},
        ["train.lr=1e-3", "method.params.sigma=0.1", "model.options.lmax=3"],
    )
    assert cfg.train.lr == 1e-3 and isinstance(cfg.train.lr, float)
    assert cfg.train.epochs == 7 and cfg.seed == 3 and cfg.train.batch_size == 4  # ci preset
    assert cfg.method.params.sigma == 0.1 and cfg.model.options.lmax == 3


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["train.lrr=1"], "lrr"),
        (["train.lr=fast"], "fast"),
        (["train.epochs=1.5"], "1.5"),
        (["train.amp=1"], "amp"),
        (["device=tpu"], "tpu"),
        (["nonsense"], "key=value"),
        (["variant=huge"], "huge"),
        (["train.compile=fast"], "compile"),
    ],
)
def test_bad_overrides_are_config_errors_naming_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("schnet", "none", "rmd17", "ci", "paper-v1", {}, overrides)


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="Did you mean 'paper-v1'"):
        resolve_config("schnet", "none", "rmd17", "ci", "paper-v2")
    with pytest.raises(ConfigError, match="rmd17"):
        resolve_config("schnet", "none", "rmd71")


def test_parse_overrides_nests_and_reads_yaml_values():
    assert parse_overrides(["a.b=1", "a.c=[1, 2]", "d=null", "e=2e-4"]) == {
        "a": {"b": 1, "c": [1, 2]},
        "d": None,
        "e": 2e-4,
    }


def test_paper_scale_only_for_the_full_profile():
    full = resolve_config(
        "equiformer", "dens", "rmd17", "paper", "paper-v1", {"data.molecule": "aspirin"}
    )
    assert is_paper_scale(full)
    capped = resolve_config(
        "equiformer",
        "dens",
        "rmd17",
        "paper",
        "paper-v1",
        {"data.molecule": "aspirin", "train.max_steps": 100},
    )
    assert not is_paper_scale(capped)
    assert not is_paper_scale(resolve_config("equiformer", "dens", "rmd17", "ci"))


@pytest.mark.parametrize(
    ("preset", "options", "changed"),
    [
        ("study", {}, {}),  # a reduced network at the paper's epochs and splits
        ("paper", {"model.options.channels": 16}, {"channels": 16}),
        ("paper", {"model.options.num_blocks": 2}, {"num_blocks": 2}),
    ],
)
def test_a_network_not_the_papers_is_never_paper_scale(preset, options, changed):
    cfg = resolve_config(
        "equiformer", "dens", "rmd17", preset, "paper-v1", {"data.molecule": "aspirin", **options}
    )
    assert cfg.train.epochs == 1500 and cfg.scale == "paper"  # the paper's training
    assert network_overrides(cfg) == changed
    assert not is_paper_network(cfg) and not is_paper_scale(cfg)


def test_another_kinds_paper_network_is_the_papers():
    """EquiformerV2's All+MD network (preset paper, entry oc20-allmd) trained on OC20."""
    allmd = {"model.options.num_layers": 20, "model.options.mmax": 3}
    short = resolve_config("equiformer-v2", "dens", "oc20", "paper", "paper-v1", allmd)
    assert network_overrides(short) == {"num_layers": 20, "mmax": 3}
    assert not is_paper_network(short)  # the All+MD entry also has drop_path_rate 0.1
    full = resolve_config(
        "equiformer-v2",
        "dens",
        "oc20",
        "paper",
        "paper-v1",
        {**allmd, "model.options.drop_path_rate": 0.1},
    )
    assert is_paper_network(full)


def test_cuda_without_a_gpu_is_a_config_error(monkeypatch):
    import torch

    from bench.train.setup import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA device"):
        check_device("cuda")
    with pytest.raises(ConfigError, match=r"--device must be one of \('cpu', 'cuda'\), got 'gpu'"):
        check_device("gpu")
    check_device("cpu")


@pytest.mark.parametrize(
    "override, message",
    [
        ("loss.force_weight=10", "config: loss: key 'force_weight' was renamed to 'lambda_force'"),
        ("method.params.lambda_noise=1", "was renamed to 'lambda_dens'"),
    ],
)
def test_old_glossary_names_say_what_they_are_called_now(override, message):
    method = "noisy-nodes" if "noise" in override else "dens"
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config("schnet", method, "rmd17", "ci", "paper-v1", {}, [override])


def test_a_resolved_config_holds_every_architecture_key_and_resolves_to_itself():
    cfg = resolve_config("equiformer", "dens", "rmd17", "ci", "paper-v1")
    assert type(cfg.model.options) is EquiformerConfig and type(cfg.method.params) is DeNSConfig
    written = cfg.to_dict()  # what config.yaml holds: every field of both
    assert set(written["model"]["options"]) == {
        f.name for f in dataclasses.fields(EquiformerConfig)
    }
    assert set(written["method"]["params"]) == {f.name for f in dataclasses.fields(DeNSConfig)}
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg
    old = cfg.to_dict() | {"model": {"backbone": "equiformer", "options": {}}}
    old["loss"] = {"energy_weight": 2.0, "force_weight": 3.0}  # a record older than both
    upgraded = RunConfig.from_record(old, "config.yaml")
    assert upgraded.model.options == cfg.model.options  # from the recorded preset
    assert (upgraded.loss.lambda_energy, upgraded.loss.lambda_force) == (2.0, 3.0)


def test_a_preset_edit_changes_the_run_id(tmp_path, monkeypatch):
    import shutil

    import bench.backbone_presets
    from bench.train.run import default_run_id

    before = resolve_config("schnet", "none", "rmd17", "ci", "paper-v1")
    edited = tmp_path / "presets"
    shutil.copytree(bench.backbone_presets.preset_dir(), edited)
    path = edited / "schnet.yaml"
    path.write_text(path.read_text().replace("num_filters: 16", "num_filters: 24", 1))
    monkeypatch.setattr(bench.backbone_presets, "preset_dir", lambda: edited)
    after = resolve_config("schnet", "none", "rmd17", "ci", "paper-v1")
    assert (before.model.options.num_filters, after.model.options.num_filters) == (16, 24)
    assert default_run_id(before) != default_run_id(after)


def test_a_profile_cannot_set_the_architecture(tmp_path, monkeypatch):
    import shutil

    import bench.config

    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    path = configs / "profiles" / "paper-v1.yaml"
    text = path.read_text().replace(
        "      train: {epochs: 2000, batch_size: 5",
        "      model: {options: {lmax: 3}}\n      train: {epochs: 2000, batch_size: 5",
        1,
    )
    assert "model: {options" in text
    path.write_text(text)
    monkeypatch.setattr(bench.config, "CONFIG_DIR", configs)
    with pytest.raises(ConfigError, match="'model' is not a profile key.*--preset"):
        resolve_config(
            "equiformer", "none", "md17", "paper", "paper-v1", {"variant": "equiformer-lmax3"}
        )


@pytest.mark.parametrize("profile", ["paper-v1", "released"])
def test_md17_dens_encodes_the_authors_unit_except_for_our_schnet_extension(profile):
    units = {
        backbone: resolve_config(
            backbone, "dens", "rmd17", "ci", profile, {"data.molecule": "toluene"}
        ).method.params
        for backbone in ("equiformer", "segnn", "schnet")
    }
    assert {b: p.encoded_force_unit for b, p in units.items()} == {
        "equiformer": "kcal/mol/A",
        "segnn": "kcal/mol/A",
        "schnet": "eV/A",
    }
    assert {p.sigma for p in units.values()} == {0.025}  # the molecule patch still applies
    oc20 = resolve_config("equiformer-v2", "dens", "oc20", "ci", profile).method.params
    assert oc20.encoded_force_unit == "eV/A"


def test_a_profile_backbone_patch_names_a_known_backbone(tmp_path, monkeypatch):
    import shutil

    import bench.config

    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    path = configs / "profiles" / "paper-v1.yaml"
    text = path.read_text().replace("  backbones:\n    schnet:\n", "  backbones:\n    shnet:\n", 1)
    assert "    shnet:\n" in text
    path.write_text(text)
    monkeypatch.setattr(bench.config, "CONFIG_DIR", configs)
    with pytest.raises(ConfigError, match="backbones: .*Did you mean 'schnet'"):
        resolve_config("schnet", "dens", "rmd17", "ci", "paper-v1", {"data.molecule": "aspirin"})
