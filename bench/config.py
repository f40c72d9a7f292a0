"""Typed run configuration: dataclasses resolved from YAML profiles and presets plus overrides.

Resolution order (later wins), all YAML shipped in ``bench/configs/``:

1. dataclass defaults below;
2. ``datasets.yaml[<dataset>]`` (split sizes, which profile section: ``kind`` md17/oc20/oc22,
   and optionally the profile ``variant`` the dataset implies, e.g. oc20-traj's total-energy);
3. ``profiles/<profile>.yaml[<kind>]``: ``data``, ``loss``, ``train`` and ``methods[<method>]``,
   then its ``molecules[<molecule>]`` patch, its ``backbones[<backbone>]`` patch (settings
   of one backbone, never its architecture), then its ``variants[<variant>]`` patch (its
   ``deviations`` only document differences from the paper; bench.reports.hyper);
4. ``scales.yaml[<scale>]`` (training scale, ``--scale``: ``ci`` is tiny, ``paper``
   changes nothing; by default the scale named like the preset, else ``paper``);
5. command-line options (``--epochs``, ``--seed``, ...);
6. ``--set key=value`` dotted overrides (values parsed by :func:`parse_assignment`);
7. the backbone and method configs resolved in full (:func:`resolve_components`): the
   backbone preset (``--preset``, the NETWORK SIZE: bench/backbones/presets/<name>.yaml, e.g.
   ``ci``, ``paper``, ``paper-l3``) under ``model.options``, and the method's defaults under
   ``method.params``. Profiles never set architecture keys.

Every YAML file and value is read by :func:`safe_load` (``1e-3`` is a float), and every
dataclass is built by bench.typed.build_dataclass: unknown keys anywhere are a ConfigError
naming the file, the key and the known ones.

Glossary (one name per idea, the paper's symbols; an old name in user YAML is a ConfigError
saying what it is called now):

=================  ==============  ========================================================
name               paper           meaning (old names)
=================  ==============  ========================================================
``lambda_energy``  lambda_E        energy-loss weight, ``loss.`` (``energy_weight``)
``lambda_force``   lambda_F        force-loss weight, ``loss.`` (``force_weight``)
``lambda_dens``    lambda_DeNS     denoising-loss weight, ``method.params.`` of dens,
                                   denoise-no-force and noisy-nodes (``lambda_noise``)
``lambda_dens_final``              noisy-nodes: the weight at the end of training
                                   (``lambda_noise_final``)
``sigma``          sigma           noise std, Angstrom
``preset``                         network size (a backbone preset)
``scale``                          training scale (scales.yaml)
=================  ==============  ========================================================
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from bench.config_checks import check_method, check_ranges
from bench.data.registry import TRAJECTORY_DATASETS
from bench.errors import ConfigError
from bench.registry import did_you_mean
from bench.typed import build_dataclass, safe_load

CONFIG_DIR = Path(__file__).parent / "configs"
#: training scales (epochs, split sizes; not the network size)
SCALES_FILE = CONFIG_DIR / "scales.yaml"
KINDS = ("md17", "oc20", "oc22")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")
ENERGY_KINDS = ("total", "referenced")
ELEMENT_REFS = (True, False, "auto")


@dataclass
class DataConfig:
    """Which data, how it is split and normalised (see bench.data.registry.DatasetSpec).

    ``normalization``: ``"train"`` computes the energy mean/std on the train split
    (bench.data.stats; after per-element references when ``element_refs``) and takes the
    force std from the energy std (``force_std_source: energy``, MD17/OC20 convention) or from
    the train forces (``forces``); ``"fixed"`` uses ``energy_mean``/``energy_std``/``force_std``
    (eV, eV/Angstrom) as given (the OC20/OC22 configs of the paper).

    ``energy_kind``: the energies the run expects, ``"referenced"`` (OC20 S2EF adsorption
    energies, what the oc20 profiles' constants are for) or ``"total"`` (OC22, MD17, ASE
    files such as the OC20 relaxation trajectories); loading data of the other kind is a
    ConfigError (training on total energies by mistake is a known OC20 trap).
    ``split_by``: ``"frame"`` or ``"trajectory"`` (``ase`` only; whole files stay in one split
    and ``n_train``/``n_val`` count files); ``early_frames``: keep only the first K frames of
    each train trajectory (bench.data.trajectory_split); ``train_subset``: train on the first K
    structures of the train split, val/test unchanged (sample-efficiency curves).
    ``element_refs``: per-element energy references subtracted before normalisation:
    ``true``, ``false``, or ``"auto"`` (references when the train split holds more than one
    composition or the files hold isolated-atom energies; bench.data.element_refs; off under
    ``normalization: fixed``, whose constants hold no references).
    ``energy_unit`` / ``length_unit``: units of an npz that states none (bench.data.sgdml).
    ``energy_key`` / ``forces_key``: label keys of ASE files (bench.data.labels).
    ``train_path`` / ``val_path`` / ``test_path``: one file or folder per split (``ase``;
    bench.data.explicit_splits).
    """

    name: str = "rmd17"
    kind: str = "md17"
    data_root: str | None = None
    molecule: str | None = None
    labels: str = "original"
    path: str | None = None
    split_index: int = 1
    split_seed: int = 1
    n_train: int | None = None
    n_val: int | None = None
    max_structures: int | None = None
    split_by: str = "frame"
    early_frames: int | None = None
    train_subset: int | None = None
    energy_kind: str = "total"
    normalization: str = "train"
    force_std_source: str = "energy"
    element_refs: bool | str = "auto"
    energy_mean: float | None = None
    energy_std: float | None = None
    force_std: float | None = None
    energy_unit: str | None = None
    length_unit: str | None = None
    energy_key: str | None = None
    forces_key: str | None = None
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None


@dataclass
class ModelConfig:
    """The backbone. ``options``: as read, a mapping of fields of the backbone's Config
    dataclass (e.g. bench.backbones.equiformer.EquiformerConfig) replacing keys of its preset
    (RunConfig.preset, bench/backbones/presets/<name>.yaml); once resolved
    (:func:`resolve_components`), that Config itself, every field set (``config.yaml``
    holds them all)."""

    backbone: str = "schnet"
    options: Any = field(default_factory=dict)


@dataclass
class MethodConfig:
    """The training regime. ``params``: as read, a mapping of fields of the method's Config
    dataclass (e.g. bench.methods.dens.DeNSConfig); once resolved, that Config itself."""

    name: str = "none"
    params: Any = field(default_factory=dict)


@dataclass
class LossConfig:
    """lambda_E and lambda_F of Eq. 1 (dimensionless, >= 0, not both 0)."""

    #: the names before the one glossary (module docstring): a "renamed to" error
    RENAMED: ClassVar[dict[str, str]] = {
        "energy_weight": "lambda_energy",
        "force_weight": "lambda_force",
    }

    lambda_energy: float = 1.0
    lambda_force: float = 80.0


@dataclass
class TrainConfig:
    """Optimisation. Learning rates are absolute; the schedule is linear warm-up from
    ``warmup_lr`` over ``warmup_epochs`` then cosine from ``lr`` to ``min_lr``, evaluated per
    epoch (``schedule_unit: epoch``, timm) or per step (``step``, fairchem). Exactly one of
    ``epochs`` / ``max_steps`` bounds training (``max_steps`` wins when both are set).
    ``amp``: bf16 autocast of the forward pass (CUDA, or CPU with bf16 instructions such as
    AVX512-BF16/AMX; losses, energies and optimiser state stay float32/float64).
    ``compile``: torch.compile of the backbone's message passing (bench.train.compiled; direct
    forces only, since compiled graphs cannot be differentiated twice; the first steps
    compile). ``checkpoint_every``: steps between
    checkpoints (0: only at the end). ``val_every_epochs``: validation at every that many epoch
    ends (0: none), kept in log.jsonl and ``checkpoints/best.pt``. ``loader_workers``: torch
    DataLoader worker processes that build the training batches ahead of the step
    (bench.train.prefetch; 0: built in the training process); the batches are the same, so it
    cannot change results and is left out of the run id.
    """

    epochs: int | None = 10
    max_steps: int | None = None
    batch_size: int = 8
    eval_batch_size: int = 8
    lr: float = 5.0e-4
    weight_decay: float = 1.0e-6
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1.0e-8
    warmup_epochs: float = 0.0
    warmup_lr: float = 1.0e-6
    min_lr: float = 1.0e-6
    schedule_unit: str = "epoch"
    grad_clip: float | None = None
    ema_decay: float | None = None
    amp: bool = False
    compile: bool = False
    drop_last: bool = True
    log_every: int = 10
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    val_every_epochs: int = 1
    loader_workers: int = 0


@dataclass
class RunConfig:
    """Everything a run depends on; ``config.yaml`` of a run directory is ``asdict`` of this."""

    run_id: str | None = None
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    profile: str = "paper-v1"
    preset: str = "ci"
    scale: str | None = None
    variant: str | None = None
    results: str = "results"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> RunConfig:
        """Strict construction (unknown keys and wrong types raise ConfigError naming
        ``where`` and the key), with the backbone and method configs resolved in full
        (:func:`resolve_components`)."""
        cfg = build_dataclass(cls, data, where)
        resolve_components(cfg, where)
        validate(cfg)
        return cfg

    @classmethod
    def from_record(cls, data: dict[str, Any], where: str) -> RunConfig:
        """A run's recorded ``config.yaml`` (bench.records.upgrade_config renames the keys
        of records older than the glossary), built as :meth:`from_dict`."""
        from bench.records import upgrade_config

        return cls.from_dict(upgrade_config(data), where)


def resolve_components(cfg: RunConfig, where: str = "config") -> None:
    """Fill ``cfg`` in place: ``scale`` (None: :func:`default_scale`), ``model.options``
    with the backbone's Config (the preset ``cfg.preset`` for ``cfg.data.kind`` under the
    given options) and ``method.params`` with the method's Config. Idempotent: a resolved
    config resolves to itself, and a record written before configs held every key
    (``options: {}``) gets its preset's values, the one place old records are read
    (bench.backbones.registry.backbone_config)."""
    from bench.backbones.registry import backbone_config
    from bench.methods import method_config

    if cfg.scale is None:
        cfg.scale = default_scale(cfg.preset)
    options, params = _mapping(cfg.model.options), _mapping(cfg.method.params)
    cfg.model.options = backbone_config(
        cfg.model.backbone, cfg.preset, cfg.data.kind, options, where
    )
    cfg.method.params = method_config(cfg.method.name, params, where)


def _mapping(value: Any) -> Any:
    """A resolved Config as the mapping of its fields; anything else unchanged."""
    return asdict(value) if dataclasses.is_dataclass(value) else value


def scales() -> list[str]:
    """Names of the training scales (``bench/configs/scales.yaml``: ``ci``, ``paper``)."""
    return list(load_yaml(SCALES_FILE))


def default_scale(preset: str) -> str:
    """The training scale of a run that names none: the scale named like its backbone preset
    (``ci``, ``paper``), else ``paper`` (a size-only preset such as ``small``, ``paper-l3``)."""
    return preset if preset in scales() else "paper"


def validate(cfg: RunConfig) -> None:
    """Cross-field and range checks (bench.config_checks); ConfigError names the offending
    key and value."""
    checks = [
        (cfg.device in DEVICES, "device", f"one of {DEVICES}", cfg.device),
        (cfg.dtype in DTYPES, "dtype", f"one of {DTYPES}", cfg.dtype),
        (cfg.data.kind in KINDS, "data.kind", f"one of {KINDS}", cfg.data.kind),
        (
            cfg.data.energy_kind in ENERGY_KINDS,
            "data.energy_kind",
            f"one of {ENERGY_KINDS}",
            cfg.data.energy_kind,
        ),
        (
            cfg.data.split_by != "trajectory" or cfg.data.name in TRAJECTORY_DATASETS,
            "data.split_by",
            "'frame' unless the dataset is ase or oc20-traj",
            cfg.data.split_by,
        ),
        (
            cfg.data.split_by == "trajectory" or cfg.data.name != "oc20-traj",
            "data.split_by",
            "'trajectory' for oc20-traj",
            cfg.data.split_by,
        ),
        (
            cfg.data.element_refs in ELEMENT_REFS,
            "data.element_refs",
            "true, false or 'auto'",
            cfg.data.element_refs,
        ),
        (
            cfg.data.normalization in ("train", "fixed"),
            "data.normalization",
            "'train' or 'fixed'",
            cfg.data.normalization,
        ),
        (
            cfg.data.force_std_source in ("energy", "forces"),
            "data.force_std_source",
            "'energy' or 'forces'",
            cfg.data.force_std_source,
        ),
        (
            cfg.train.checkpoint_every >= 0 and cfg.train.val_every_epochs >= 0,
            "train.checkpoint_every",
            ">= 0 (and val_every_epochs >= 0)",
            cfg.train.checkpoint_every,
        ),
        (
            cfg.train.schedule_unit in ("epoch", "step"),
            "train.schedule_unit",
            "'epoch' or 'step'",
            cfg.train.schedule_unit,
        ),
        (
            cfg.train.epochs is not None or cfg.train.max_steps is not None,
            "train.epochs",
            "set (or train.max_steps)",
            None,
        ),
        (
            cfg.train.batch_size >= 1 and cfg.train.eval_batch_size >= 1,
            "train.batch_size",
            ">= 1 (and eval_batch_size)",
            cfg.train.batch_size,
        ),
        (
            cfg.train.ema_decay is None or 0 < cfg.train.ema_decay < 1,
            "train.ema_decay",
            "in (0, 1) or null",
            cfg.train.ema_decay,
        ),
        (
            cfg.train.grad_clip is None or cfg.train.grad_clip > 0,
            "train.grad_clip",
            "> 0 or null",
            cfg.train.grad_clip,
        ),
        (
            cfg.train.log_every >= 1 and cfg.train.keep_checkpoints >= 1,
            "train.log_every",
            ">= 1 (and keep_checkpoints >= 1)",
            cfg.train.log_every,
        ),
        (len(cfg.train.betas) == 2, "train.betas", "two numbers", cfg.train.betas),
    ]
    for ok, key, expected, value in checks:
        if not ok:
            raise ConfigError(f"config key {key!r} must be {expected}, got {value!r}")
    _check_dataset_options(cfg.data)
    if cfg.data.normalization == "fixed" and None in (
        cfg.data.energy_mean,
        cfg.data.energy_std,
        cfg.data.force_std,
    ):
        raise ConfigError(
            "data.normalization 'fixed' needs data.energy_mean, energy_std, force_std"
        )
    check_ranges(cfg)
    check_method(cfg)
    from bench.data.trajectory_split import check_split_options

    check_split_options(cfg.data.split_by, cfg.data.early_frames)


#: data keys -> the datasets that read them (set for any other dataset: ConfigError)
DATASET_OPTIONS = {
    ("train_path", "val_path", "test_path"): ("ase",),
    ("energy_key", "forces_key"): ("ase", "oc20-traj"),
    ("energy_unit", "length_unit"): ("npz", "md17"),
}


def _check_dataset_options(data: DataConfig) -> None:
    """ConfigError for a data key that the dataset's reader would ignore."""
    for keys, datasets in DATASET_OPTIONS.items():
        for key in keys:
            if getattr(data, key) is not None and data.name not in datasets:
                raise ConfigError(
                    f"data.{key} is read by the {' / '.join(datasets)} dataset(s) "
                    f"only, not by {data.name!r}"
                )


# ----------------------------------------------------------------------------- resolution


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path`` (a fresh copy; the parse is cached while the file's size
    and mtime stay, since a matrix resolves every grid point); ConfigError naming the file
    otherwise."""
    try:
        stat = Path(path).stat()
        data = copy.deepcopy(_parse_file(str(path), stat.st_mtime_ns, stat.st_size))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


@functools.lru_cache(maxsize=128)
def _parse_file(path: str, mtime_ns: int, size: int) -> Any:
    """:func:`safe_load` of the file at ``path`` (``mtime_ns``, ``size``: the cache key)."""
    return safe_load(Path(path).read_text())


def profiles() -> list[str]:
    """Names of the shipped hyper-parameter profiles."""
    return sorted(p.stem for p in (CONFIG_DIR / "profiles").glob("*.yaml"))


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``patch`` merged into ``base`` recursively (mappings merge, rest replaces)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_assignment(item: str, option: str = "--set") -> tuple[str, Any]:
    """``"train.lr=1e-3"`` -> ``("train.lr", 0.001)``: the one parser of ``key=value``
    options (``bench run``/``matrix``/``perf``/``params`` ``--set``, ``--slurm``); the value
    is read by :func:`safe_load` (an empty value is None)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{option} expects key=value, got {item!r}")
    try:
        return key.strip(), safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{option} {item!r}: value is not valid YAML ({exc})") from exc


def parse_pairs(items: list[str] | tuple[str, ...], option: str = "--set") -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}`` (flat; :func:`parse_assignment`)."""
    return dict(parse_assignment(item, option) for item in items)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["train.lr=1e-3", "method.params.sigma=0.1"]`` -> nested dict (values via
    :func:`parse_assignment`; a later item wins)."""
    out: dict[str, Any] = {}
    for item in items:
        key, value = parse_assignment(item)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is set to a value and a mapping")
        node[parts[-1]] = value
    return out


#: keys of a profile block that patch the config, and the blocks nested in a section
PROFILE_PATCH_KEYS = ("data", "loss", "train", "methods")
PROFILE_NESTED_KEYS = ("molecules", "backbones", "variants", "deviations")


def profile_section(profile: str, kind: str) -> dict[str, Any]:
    """``profiles/<profile>.yaml[kind]``; ConfigError when the profile or kind is unknown."""
    if profile not in profiles():
        raise ConfigError(f"profile {did_you_mean(profile, profiles())}")
    path = CONFIG_DIR / "profiles" / f"{profile}.yaml"
    table = load_yaml(path)
    if kind not in table:
        raise ConfigError(f"{path}: no section for dataset kind {kind!r}; known: {list(table)}")
    section = table[kind]
    allowed = set(PROFILE_PATCH_KEYS) | set(PROFILE_NESTED_KEYS)
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(f"{path}: {kind}: unknown key {did_you_mean(unknown[0], allowed)}")
    from bench.backbones.registry import BACKBONES

    for name in section.get("backbones") or {}:
        if name not in BACKBONES:
            raise ConfigError(f"{path}: {kind}: backbones: {did_you_mean(name, list(BACKBONES))}")
    return section


def _profile_patch(section: dict[str, Any], method: str, where: str) -> dict[str, Any]:
    """A config patch from one profile block (``data``/``loss``/``train``/``methods``; a
    profile never sets the architecture: that is a backbone preset)."""
    allowed = set(PROFILE_PATCH_KEYS)
    if "model" in section:
        raise ConfigError(
            f"{where}: 'model' is not a profile key (the architecture is a backbone preset, "
            "--preset, e.g. paper-l3)"
        )
    unknown = sorted(set(section) - allowed - set(PROFILE_NESTED_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {did_you_mean(unknown[0], allowed)}")
    patch = {k: section[k] for k in ("data", "loss", "train") if k in section}
    methods = section.get("methods") or {}
    if method in methods:
        patch["method"] = {"params": methods[method] or {}}
    return patch


def _nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"data.molecule": "aspirin"}`` -> ``{"data": {"molecule": "aspirin"}}``."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _canonical_molecule(name: str | None) -> str | None:
    from bench.data.molecules import ALIASES

    return None if name is None else ALIASES.get(name, name)


def resolve_config(
    backbone: str,
    method: str,
    dataset: str,
    preset: str = "ci",
    profile: str = "paper-v1",
    cli: dict[str, Any] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    scale: str | None = None,
) -> RunConfig:
    """The fully resolved RunConfig (module docstring gives the order).

    Args:
        backbone, method, dataset: registry names.
        preset: the backbone preset, i.e. the network size (``ci``, ``paper``, ``paper-l3``,
            ...; bench/backbones/presets/<backbone>.yaml).
        profile: hyper-parameter profile (``paper-v1``, ``released``).
        cli: dotted keys set by command-line options, e.g. ``{"data.molecule": "aspirin"}``.
        overrides: ``--set key=value`` strings.
        scale: training scale (scales.yaml: ``ci``, ``paper``); None: the scale named like
            ``preset``, else ``paper``.
    """
    cli_patch, set_patch = _nested(cli or {}), parse_overrides(overrides)
    early = deep_merge(cli_patch, set_patch)
    scale = scale or default_scale(preset)
    if scale not in scales():
        raise ConfigError(f"{SCALES_FILE}: scale {did_you_mean(scale, scales())}")
    d = asdict(RunConfig(preset=preset, profile=profile, scale=scale))
    d["model"]["backbone"], d["method"]["name"], d["data"]["name"] = backbone, method, dataset
    datasets = load_yaml(CONFIG_DIR / "datasets.yaml")
    if dataset not in datasets:
        raise ConfigError(f"dataset {did_you_mean(dataset, list(datasets))}")
    dataset_data = dict(datasets[dataset])
    variant = early.get("variant", dataset_data.pop("variant", None))
    d = deep_merge(d, {"data": dataset_data, "variant": variant})
    kind = early.get("data", {}).get("kind", d["data"]["kind"])
    section = profile_section(profile, kind)
    where = f"profile {profile!r} section {kind!r}"
    d = deep_merge(d, _profile_patch(section, method, where))
    molecule = _canonical_molecule(early.get("data", {}).get("molecule"))
    if molecule in (section.get("molecules") or {}):
        patch = _profile_patch(section["molecules"][molecule], method, f"{where} {molecule!r}")
        d = deep_merge(d, patch)
    if backbone in (section.get("backbones") or {}):
        patch = _profile_patch(section["backbones"][backbone], method, f"{where} {backbone!r}")
        d = deep_merge(d, patch)
    if variant is not None:
        variants = section.get("variants") or {}
        if variant not in variants:
            raise ConfigError(f"{where}: variant {did_you_mean(variant, list(variants))}")
        d = deep_merge(d, _profile_patch(variants[variant], method, f"{where} {variant!r}"))
    d = deep_merge(d, load_yaml(SCALES_FILE)[scale] or {})
    d = deep_merge(deep_merge(d, cli_patch), set_patch)
    return RunConfig.from_dict(d, "config")


#: backbone presets that are the paper's networks (``small``, ``study``, ``ci`` are not)
PAPER_PRESETS = ("paper", "paper-l3")


def network_overrides(cfg: RunConfig) -> dict[str, Any]:
    """The architecture keys of a resolved ``cfg`` whose values differ from its backbone
    preset's for its data kind (``--set model.options.channels=32`` on preset ``study``:
    ``{"channels": 32}``); empty when the network is the preset's."""
    from bench.backbones.registry import backbone_config

    preset = asdict(backbone_config(cfg.model.backbone, cfg.preset, cfg.data.kind))
    options = _mapping(cfg.model.options)
    return {key: value for key, value in options.items() if preset.get(key) != value}


def is_paper_network(cfg: RunConfig) -> bool:
    """True when the network of a resolved ``cfg`` is one of the paper's: the options of
    one entry of its preset, a preset of :data:`PAPER_PRESETS` (the entry of another data
    kind counts: EquiformerV2's ``oc20-allmd`` network, chosen by ``--set model.options``
    on OC20, is the paper's All+MD model)."""
    from bench.backbone_presets import preset_kinds
    from bench.backbones.registry import backbone_config

    if cfg.preset not in PAPER_PRESETS:
        return False
    options = _mapping(cfg.model.options)
    return any(
        asdict(backbone_config(cfg.model.backbone, cfg.preset, kind)) == options
        for kind in preset_kinds(cfg.model.backbone, cfg.preset)
    )


def is_paper_scale(cfg: RunConfig) -> bool:
    """True only when ``cfg`` trains one of the paper's networks (:func:`is_paper_network`)
    at the full scale of its profile: paper scale, the profile's epochs and batch size, the
    dataset's split sizes, no step cap, no truncation."""
    from bench.run_request import RunRequest, override

    if cfg.scale != "paper" or cfg.train.max_steps is not None or cfg.data.max_structures:
        return False
    if not is_paper_network(cfg):
        return False
    ref = RunRequest(
        cfg.model.backbone,
        cfg.method.name,
        cfg.data.name,
        preset="paper",
        profile=cfg.profile,
        molecule=cfg.data.molecule,
        variant=cfg.variant,
        overrides=(override("data.kind", cfg.data.kind),),
    ).resolve()
    return (cfg.train.epochs, cfg.train.batch_size, cfg.data.n_train, cfg.data.n_val) == (
        ref.train.epochs,
        ref.train.batch_size,
        ref.data.n_train,
        ref.data.n_val,
    )
