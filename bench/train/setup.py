"""Build what a run needs from its RunConfig: data splits, normalisation, method and model."""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch_geometric.data import Data

from bench.config import DEVICES, RunConfig, load_yaml
from bench.data.element_refs import reference_stats
from bench.data.lazy import LazyData, bounded, pass_note
from bench.data.registry import DatasetSpec, SplitData, load_splits
from bench.data.split_checks import check_splits
from bench.data.stats import source_files
from bench.data.structure import Structure
from bench.data.torch_data import to_data
from bench.errors import ConfigError, DataError
from bench.methods import METHODS, Method
from bench.records import CHECKPOINT_DIR, CONFIG_FILE
from bench.registry import resolve
from bench.train.normalization import Normalization

STATS_FILE = "stats.json"
#: weights used for evaluation (EMA weights when EMA is on), under checkpoints/
MODEL_FILE = "model.pt"


def load_split(data_cfg, need: tuple[str, ...] = ("train", "val", "test")) -> SplitData:
    """Train/val/test structures of ``data_cfg`` (a bench.config.DataConfig), checked
    (bench.data.split_checks; only the splits in ``need`` must be non-empty)."""
    spec = DatasetSpec(
        **{
            f.name: _spec_value(f.name, getattr(data_cfg, f.name))
            for f in dataclasses.fields(DatasetSpec)
        }
    )
    split = load_splits(spec)
    if split.energy_kind != data_cfg.energy_kind:
        hint = (
            "; for total-energy trajectories use --set variant=total-energy (train-split "
            "normalisation with per-element references)"
            if split.energy_kind == "total" and data_cfg.kind == "oc20"
            else ""
        )
        raise ConfigError(
            f"data.energy_kind is {data_cfg.energy_kind!r} but dataset "
            f"{data_cfg.name!r} gives {split.energy_kind} energies{hint}"
        )
    check_splits(split, data_cfg, need)
    return split


def _spec_value(name: str, value):
    """A DataConfig value as DatasetSpec holds it (paths as Path)."""
    paths = ("data_root", "path", "train_path", "val_path", "test_path")
    return Path(value) if name in paths and value is not None else value


def to_data_list(structures: Sequence[Structure], dtype: str) -> Sequence[Data]:
    """Structures as PyG ``Data`` in ``dtype`` ("float32" or "float64"): a list converted once
    from a list, a bench.data.lazy.LazyData converting on each read from a lazy split."""
    if not isinstance(structures, list):
        return LazyData(structures, getattr(torch, dtype))
    return [to_data(s, getattr(torch, dtype)) for s in structures]


def normalization(data_cfg, train: Sequence[Structure], e0s: dict | None = None) -> dict:
    """``{"energy_mean", "energy_std", "force_std", "atom_ref", "element_refs",
    "train_stats"}`` (eV, eV/A).

    ``normalization: train``: from the train split (bench.data.stats.compute_stats); the
    energy std is the population std of the energies after the per-element references
    ``element_refs`` selects (bench.data.element_refs: the fit, the files' isolated-atom
    ``e0s``, or none), and ``force_std`` is the energy std (``force_std_source: energy``, MD17
    and OC20 convention) or the std of the free-atom force components (``forces``).
    ``normalization: fixed``: the configured constants. A lazy train split of more than
    bench.data.lazy.MAX_PASS structures gives its statistics from a seeded sample of that
    many (``"train_stats_pass"`` records which). (The released MD17 code uses torch's
    unbiased std of the train energies; the population std used here differs by a factor
    sqrt(950/949) at the paper's split size.)
    """
    fixed = data_cfg.normalization == "fixed"  # its constants hold no references: auto = off
    mode = False if fixed and data_cfg.element_refs == "auto" else data_cfg.element_refs
    sample = bounded(train)
    stats, refs = reference_stats(sample, mode, e0s)
    out = {
        "train_stats": stats.to_dict(),
        "train_stats_pass": pass_note(train, sample),
        "atom_ref": stats.element_refs_ev,
        "element_refs": refs,
    }
    if fixed:
        return out | {
            "energy_mean": data_cfg.energy_mean,
            "energy_std": data_cfg.energy_std,
            "force_std": data_cfg.force_std,
            "atom_ref": None,
        }
    mean = stats.residual_mean_ev if refs["used"] else stats.energy_mean_ev
    std = stats.residual_std_ev if refs["used"] else stats.energy_std_ev
    force_std = std if data_cfg.force_std_source == "energy" else stats.force_std_ev_per_a
    if not (std > 0 and force_std > 0):
        raise DataError(
            source_files(sample),
            "energy",
            f"train split has zero energy or force spread (std {std!r}, "
            f"force std {force_std!r}); cannot normalise",
        )
    return out | {"energy_mean": mean, "energy_std": std, "force_std": force_std}


def build_run_method(cfg: RunConfig) -> Method:
    """The training regime of a resolved ``cfg``: its method Config and loss weights."""
    cls = resolve(METHODS, cfg.method.name, "method")
    return cls(cfg.method.params, cfg.loss.lambda_energy, cfg.loss.lambda_force)


def build_model(cfg: RunConfig, method: Method, norm: Normalization) -> nn.Module:
    """The backbone of a resolved ``cfg`` (its backbone Config) with exactly the
    capabilities ``method`` requires (:func:`check_capabilities`), normalised, on
    ``cfg.device`` in ``cfg.dtype``."""
    from bench.backbones.registry import build_from_config

    check_capabilities(cfg.model.backbone, method)
    model = build_from_config(cfg.model.backbone, cfg.model.options, **method.backbone_flags())
    model.set_normalization(
        norm.energy_mean, norm.energy_std, norm.force_std, norm.atom_ref_tensor()
    )
    return model.to(device=torch.device(cfg.device), dtype=getattr(torch, cfg.dtype))


def check_capabilities(backbone: str, method: Method) -> None:
    """ConfigError when the class of ``backbone`` cannot be built with a capability ``method``
    requires (bench.backbones.base.Capabilities; force encoding and the noise head every backbone
    offers, sigma encoding only the classes declaring ``sigma_encoding``)."""
    from bench.backbones.registry import BACKBONES

    if (
        method.requires_sigma_encoding
        and not resolve(BACKBONES, backbone, "backbone").sigma_encoding
    ):
        raise ConfigError(
            f"method option encode_sigma needs a backbone that encodes sigma; "
            f"{backbone!r} does not (its sigma_encoding is False)"
        )


def check_device(device: str) -> None:
    """ConfigError when ``device`` is not one of DEVICES, or is cuda and no GPU is visible."""
    if device not in DEVICES:
        raise ConfigError(f"--device must be one of {DEVICES}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda: no CUDA device is available (torch.cuda.is_available() is False)"
        )


def load_run_model(run_dir: str | Path, device: str = "cpu") -> tuple[nn.Module, RunConfig]:
    """The evaluation model of a finished run (``checkpoints/model.pt``) and its config."""
    run_dir = Path(run_dir)
    cfg = RunConfig.from_record(load_yaml(run_dir / CONFIG_FILE), str(run_dir / CONFIG_FILE))
    cfg.device = device
    check_device(device)
    weights = run_dir / CHECKPOINT_DIR / MODEL_FILE
    if not weights.is_file():
        raise DataError(weights, None, "no final weights (did the run finish?)")
    stats = run_dir / STATS_FILE
    model = build_model(
        cfg, build_run_method(cfg), Normalization.from_dict(_read_json(stats), stats)
    )
    try:
        model.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(
            weights, None, f"unreadable weights, truncated or corrupt ({detail})"
        ) from exc
    return model, cfg


def _read_json(path: Path) -> dict:
    """A JSON object from ``path``; DataError naming the file otherwise."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DataError(path, None, "missing (is this a run directory?)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(path, None, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(path, None, "expected a JSON object")
    return data
