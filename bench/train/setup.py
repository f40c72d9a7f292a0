"""Build what a run needs from its RunConfig: data splits, normalisation, method and model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch_geometric.data import Data

from bench.config import DEVICES, RunConfig, load_yaml
from bench.data.registry import DatasetSpec, SplitData, load_splits
from bench.data.stats import compute_stats
from bench.data.structure import Structure
from bench.data.torch_data import to_data
from bench.errors import ConfigError, DataError
from bench.records import CHECKPOINT_DIR, CONFIG_FILE
from methods import Method, build_method

STATS_FILE = "stats.json"
#: weights used for evaluation (EMA weights when EMA is on), under checkpoints/
MODEL_FILE = "model.pt"


def load_split(data_cfg) -> SplitData:
    """Train/val/test structures of ``data_cfg`` (a bench.config.DataConfig)."""
    spec = DatasetSpec(
        name=data_cfg.name,
        data_root=None if data_cfg.data_root is None else Path(data_cfg.data_root),
        molecule=data_cfg.molecule,
        labels=data_cfg.labels,
        path=None if data_cfg.path is None else Path(data_cfg.path),
        split_index=data_cfg.split_index,
        split_seed=data_cfg.split_seed,
        n_train=data_cfg.n_train,
        n_val=data_cfg.n_val,
        max_structures=data_cfg.max_structures,
        split_by=data_cfg.split_by,
        early_frames=data_cfg.early_frames,
    )
    split = load_splits(spec)
    if split.energy_kind != data_cfg.energy_kind:
        hint = ("; for total-energy trajectories use --set variant=total-energy (train-split "
                "normalisation with per-element references)"
                if split.energy_kind == "total" and data_cfg.kind == "oc20" else "")
        raise ConfigError(f"data.energy_kind is {data_cfg.energy_kind!r} but dataset "
                          f"{data_cfg.name!r} gives {split.energy_kind} energies{hint}")
    return split


def to_data_list(structures: Sequence[Structure], dtype: str) -> list[Data]:
    """Structures as PyG ``Data`` in ``dtype`` ("float32" or "float64")."""
    return [to_data(s, getattr(torch, dtype)) for s in structures]


def normalization(data_cfg, train: Sequence[Structure]) -> dict:
    """``{"energy_mean", "energy_std", "force_std", "atom_ref", "train_stats"}`` (eV, eV/A).

    ``normalization: train``: from the train split (bench.data.stats.compute_stats); the
    energy std is the population std of the (element-referenced, when ``element_refs``)
    energies, and ``force_std`` is the energy std (``force_std_source: energy``, MD17 and
    OC20 convention) or the std of the free-atom force components (``forces``).
    ``normalization: fixed``: the configured constants. (The released MD17 code uses torch's
    unbiased std of the train energies; the population std used here differs by a factor
    sqrt(950/949) at the paper's split size.)
    """
    stats = compute_stats(train, element_refs=data_cfg.element_refs)
    out = {"train_stats": stats.to_dict(), "atom_ref": stats.element_refs_ev}
    if data_cfg.normalization == "fixed":
        return out | {"energy_mean": data_cfg.energy_mean, "energy_std": data_cfg.energy_std,
                      "force_std": data_cfg.force_std, "atom_ref": None}
    refs = data_cfg.element_refs
    mean = stats.residual_mean_ev if refs else stats.energy_mean_ev
    std = stats.residual_std_ev if refs else stats.energy_std_ev
    force_std = std if data_cfg.force_std_source == "energy" else stats.force_std_ev_per_a
    if not (std > 0 and force_std > 0):
        raise DataError(None, "energy", f"train split has zero energy or force spread "
                        f"(std {std!r}, force std {force_std!r}); cannot normalise")
    return out | {"energy_mean": mean, "energy_std": std, "force_std": force_std}


def build_run_method(cfg: RunConfig) -> Method:
    """The training regime of ``cfg`` with its loss weights and hyper-parameters."""
    return build_method(cfg.method.name, energy_weight=cfg.loss.energy_weight,
                        force_weight=cfg.loss.force_weight, **cfg.method.params)


def build_model(cfg: RunConfig, method: Method, norm: dict) -> nn.Module:
    """The backbone of ``cfg`` (with the DeNS heads when the method needs them), normalised,
    on ``cfg.device`` in ``cfg.dtype``. Raises ConfigError for unsupported pairings."""
    from backbones.registry import build_backbone

    model = build_backbone(cfg.model.backbone, cfg.preset, cfg.data.kind,
                           dens=method.needs_noise_head, **cfg.model.options)
    if method.needs_sigma_input and not getattr(model, "encodes_sigma", False):
        raise ConfigError(f"method option encode_sigma needs a backbone that encodes sigma; "
                          f"{cfg.model.backbone!r} does not (encodes_sigma is not set)")
    atom_ref = None
    if norm.get("atom_ref"):
        atom_ref = torch.zeros(119, dtype=torch.float64)
        for z, value in norm["atom_ref"].items():
            atom_ref[int(z)] = value
    model.set_normalization(norm["energy_mean"], norm["energy_std"], norm["force_std"], atom_ref)
    return model.to(device=torch.device(cfg.device), dtype=getattr(torch, cfg.dtype))


def check_device(device: str) -> None:
    """ConfigError when ``device`` is not one of DEVICES, or is cuda and no GPU is visible."""
    if device not in DEVICES:
        raise ConfigError(f"--device must be one of {DEVICES}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (torch.cuda.is_available()"
                          " is False)")


def load_run_model(run_dir: str | Path, device: str = "cpu") -> tuple[nn.Module, RunConfig]:
    """The evaluation model of a finished run (``checkpoints/model.pt``) and its config."""
    run_dir = Path(run_dir)
    cfg = RunConfig.from_dict(load_yaml(run_dir / CONFIG_FILE), str(run_dir / CONFIG_FILE))
    cfg.device = device
    check_device(device)
    weights = run_dir / CHECKPOINT_DIR / MODEL_FILE
    if not weights.is_file():
        raise DataError(weights, None, "no final weights (did the run finish?)")
    norm = json.loads((run_dir / STATS_FILE).read_text())
    model = build_model(cfg, build_run_method(cfg), norm)
    state = torch.load(weights, map_location=device, weights_only=True)
    model.load_state_dict(state)
    return model, cfg
