"""Parameter names and configs of fairchem-style EquiformerV2 / eSCN checkpoints, in dens-bench
terms: shared by the ``fairchem`` and ``dens`` layouts (bench/imports/fairchem.py, dens.py).

Names: fairchem's legacy single-model layout (``sphere_embedding.weight``, ``blocks.3.ga...``,
``energy_block...``, ``force_block...``; DeNS adds ``force_embedding`` and
``denoising_pos_block``) and fairchem 1.x's hydra layout (``backbone.`` +
``output_heads.{energy,forces}.``) both map onto bench/backbones/equiformer_v2 and
bench/backbones/escn.
Constant tensors the reference stores in its state dict (Wigner/grid tables, index maps,
distance offsets) are recomputed here and skipped; any other unknown name is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from bench.errors import DataError
from bench.imports.base import strip_prefixes, unknown_key

#: (pattern, replacement) applied in order to a reference EquiformerV2 parameter name
EQUIFORMER_V2_RENAMES = (
    (r"^backbone\.", ""),
    (r"^output_heads\.energy\.energy_block\.", "energy_block."),
    (r"^output_heads\.forces\.force_block\.", "force_block."),
    (r"\.rad_func\.net\.", ".radial."),
    (r"^(blocks\.\d+)\.ga\.", r"\1.attention."),
    (r"\.so2_conv_(\d)\.", r".conv_\1."),
    (r"\.so2_m_conv\.(\d+)\.fc\.", r".fc_m.\1."),
    (r"\.so3_linear_(\d)\.", r".linear_\1."),
    (r"^energy_block\.", "energy_head."),
    (r"^force_block\.", "force_head."),
    (r"^denoising_pos_block\.", "noise_head."),
    (r"^force_embedding\.", "force_encoder.linear."),
)

#: (pattern, replacement) for a reference eSCN parameter name
ESCN_RENAMES = (
    (r"^backbone\.", ""),
    (r"^output_heads\.energy\.energy_block\.", "energy_block."),
    (r"^output_heads\.forces\.force_block\.", "force_block."),
    (r"^layer_blocks\.(\d+)\.message_block\.", r"layers.\1."),
    (r"^layer_blocks\.", "layers."),
    (r"\.edge_block\.fc1_dist\.", ".edge_block.fc_dist."),
    (r"\.edge_block\.fc1_edge_attr\.", ".edge_block.fc_edge."),
    (r"\.so2_block_(source|target)\.", r".so2_\1."),
    (r"\.fc1_dist0\.", ".fc_dist_m0."),
    (r"\.so2_conv\.(\d+)\.fc1_dist\.", r".orders.\1.fc_dist."),
    (r"\.so2_conv\.(\d+)\.", r".orders.\1."),
    (r"\.fc1_sphere\.", ".grid_mlp.0."),
    (r"\.fc2_sphere\.", ".grid_mlp.2."),
    (r"\.fc3_sphere\.", ".grid_mlp.4."),
    (r"^(energy|force|denoising_pos)_block\.fc1\.", r"\1_block.net.0."),
    (r"^(energy|force|denoising_pos)_block\.fc2\.", r"\1_block.net.2."),
    (r"^(energy|force|denoising_pos)_block\.fc3\.", r"\1_block.net.4."),
    (r"^energy_block\.", "energy_head."),
    (r"^force_block\.", "force_head."),
    (r"^denoising_pos_block\.", "noise_head."),
    (r"^force_embedding\.", "force_encoder.linear."),
)

#: reference state-dict entries that are constants of the architecture (recomputed here)
CONSTANT_BUFFERS = re.compile(
    r"(^|\.)(SO3_rotation|mappingReduced|SO3_grid|mapping)\.|(^|\.)expand_index$"
    r"|(^|\.)balance_degree_weight$|(^|\.)distance_expansion\.offset$|(^|\.)Jd\.\d+$"
    r"|^sphere_points$|^sphharm_weights\.\d+$"
)


def rename_state(
    state: Mapping[str, torch.Tensor],
    renames: tuple[tuple[str, str], ...],
    expected: Mapping[str, torch.Tensor],
    path: str,
    layout: str,
) -> dict[str, torch.Tensor]:
    """The reference ``state`` under dens-bench names, checked against ``expected`` (a freshly
    built model's state dict): unknown names and shape mismatches raise DataError naming the
    first offending key; learnable names missing from the checkpoint too."""
    out = {}
    for key, value in strip_prefixes(state).items():
        name = key
        for pattern, repl in renames:
            name = re.sub(pattern, repl, name)
        if name not in expected:
            if CONSTANT_BUFFERS.search(key):
                continue
            raise unknown_key(path, key, layout)
        if tuple(value.shape) != tuple(expected[name].shape):
            raise DataError(
                path,
                key,
                f"shape {tuple(value.shape)}, expected "
                f"{tuple(expected[name].shape)} for the config's architecture",
            )
        out[name] = value
    missing = [k for k in expected if k not in out and k not in NORMALISATION_BUFFERS]
    if missing:
        raise DataError(path, missing[0], "parameter missing from the checkpoint")
    return out


#: dens-bench buffers that come from stats.json, not from the reference's state dict
NORMALISATION_BUFFERS = ("energy_mean", "energy_std", "force_std", "atom_ref")


def model_config(config: Mapping[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    """``(name, attributes)`` of the checkpoint's model: fairchem's legacy
    ``{"model": name, "model_attributes": {...}}`` or ``{"model": {"name": ..., ...}}``, and
    hydra's ``{"model": {"name": "hydra", "backbone": {"model": ...}}}``."""
    model = config.get("model")
    if isinstance(model, str):
        return model, dict(config.get("model_attributes") or {})
    if not isinstance(model, Mapping):
        raise DataError(path, "config.model", "missing: not a fairchem checkpoint config")
    if model.get("name") == "hydra":
        backbone = dict(model.get("backbone") or {})
        return str(backbone.pop("model", "")).removesuffix("_backbone"), backbone
    attrs = dict(model)
    return str(attrs.pop("name", "")), attrs


def require(attrs: Mapping[str, Any], allowed: Mapping[str, Any], path: str) -> None:
    """DataError unless every option in ``allowed`` has the supported value (absent: the
    reference default, given as the value)."""
    for key, value in allowed.items():
        if attrs.get(key, value) != value:
            raise DataError(
                path,
                f"config.model.{key}",
                f"{attrs[key]!r} is not supported (dens-bench implements {value!r})",
            )


def normalisation(checkpoint: Mapping[str, Any], path: str) -> dict[str, float] | None:
    """``{"energy_mean", "energy_std", "force_std"}`` from the checkpoint: its ``normalizers``
    (``target`` / ``grad_target`` mean and std), else the config's dataset ``target_mean``,
    ``target_std``, ``grad_target_std``, else a DeNS-style ``transforms.normalizer``; None when
    the checkpoint has none."""
    norms = checkpoint.get("normalizers") or {}
    if "target" in norms:
        grad = norms.get("grad_target", norms["target"])
        return _stats(norms["target"]["mean"], norms["target"]["std"], grad["std"], path)
    dataset = (checkpoint.get("config") or {}).get("dataset") or {}
    if isinstance(dataset, list):
        dataset = dataset[0] if dataset else {}
    if "target_mean" in dataset:
        std = dataset["target_std"]
        return _stats(dataset["target_mean"], std, dataset.get("grad_target_std", std), path)
    energy_forces = ((dataset.get("train") or {}).get("transforms") or {}).get("normalizer") or {}
    if "energy" in energy_forces:
        energy = energy_forces["energy"]
        forces = energy_forces.get("forces", energy)
        return _stats(energy.get("mean", 0.0), energy["stdev"], forces["stdev"], path)
    return None


def _stats(mean, std, force_std, path: str) -> dict[str, float]:
    values = {"energy_mean": float(mean), "energy_std": float(std), "force_std": float(force_std)}
    if not (values["energy_std"] > 0 and values["force_std"] > 0):
        raise DataError(path, "normalizer", f"standard deviations must be positive: {values}")
    return values


def equiformer_v2_options(attrs: Mapping[str, Any], path: str) -> dict[str, Any]:
    """bench.backbones.equiformer_v2.EquiformerV2 options of a reference EquiformerV2 config."""
    require(
        attrs,
        {
            "norm_type": "layer_norm_sh",
            "use_s2_act_attn": False,
            "use_gate_act": False,
            "use_grid_mlp": True,
            "use_sep_s2_act": True,
            "use_attn_renorm": True,
            "use_tp_reparam": False,
            "use_m_share_rad": False,
            "share_atom_edge_embedding": False,
            "use_atom_edge_embedding": True,
            "distance_function": "gaussian",
            "attn_activation": "silu",
            "ffn_activation": "silu",
            "use_pbc": True,
            "regress_forces": True,
            "use_noise_schedule_sigma_encoding": False,
            "use_force_encoding": True,
        },
        path,
    )
    lmax, mmax = _single(attrs, "lmax_list", path), _single(attrs, "mmax_list", path)
    strict = attrs.get("enforce_max_neighbors_strictly", True)
    options = {
        "num_layers": attrs.get("num_layers", 12),
        "sphere_channels": attrs.get("sphere_channels", 128),
        "attn_hidden_channels": attrs.get("attn_hidden_channels", 128),
        "num_heads": attrs.get("num_heads", 8),
        "attn_alpha_channels": attrs.get("attn_alpha_channels", 32),
        "attn_value_channels": attrs.get("attn_value_channels", 16),
        "ffn_hidden_channels": attrs.get("ffn_hidden_channels", 512),
        "lmax": lmax,
        "mmax": mmax,
        "grid_resolution": attrs.get("grid_resolution"),
        "edge_channels": attrs.get("edge_channels", 128),
        "num_distance_basis": 600,  # the reference's Gaussians, whatever its config says
        "num_elements": attrs.get("max_num_elements", 90),
        "alpha_drop": attrs.get("alpha_drop", 0.1),
        "drop_path_rate": attrs.get("drop_path_rate", 0.05),
        "cutoff": attrs.get("max_radius", 5.0),
        "max_neighbors": attrs.get("max_neighbors", 500),
        "neighbor_rule": "fairchem-strict" if strict else "fairchem-tolerant",
        "force_mode": "direct",
    }
    for key in ("avg_num_nodes", "avg_degree"):
        if key in attrs:
            options[key] = attrs[key]
    return options


def escn_options(attrs: Mapping[str, Any], path: str) -> dict[str, Any]:
    """bench.backbones.escn.ESCN options of a reference eSCN config."""
    require(
        attrs,
        {
            "distance_function": "gaussian",
            "use_pbc": True,
            "regress_forces": True,
            "use_force_encoding": True,
        },
        path,
    )
    return {
        "num_layers": attrs.get("num_layers", 8),
        "sphere_channels": attrs.get("sphere_channels", 128),
        "hidden_channels": attrs.get("hidden_channels", 256),
        "edge_channels": attrs.get("edge_channels", 128),
        "lmax": _single(attrs, "lmax_list", path),
        "mmax": _single(attrs, "mmax_list", path),
        "num_sphere_samples": attrs.get("num_sphere_samples", 128),
        "head_quadrature_degree": None,
        "distance_resolution": attrs.get("distance_resolution", 0.02),
        "basis_width_scalar": attrs.get("basis_width_scalar", 1.0),
        "grid_resolution": attrs.get("resolution"),
        "num_elements": attrs.get("max_num_elements", 90),
        "cutoff": attrs.get("cutoff", 8.0),
        "max_neighbors": attrs.get("max_neighbors", 40),
        "neighbor_rule": "fairchem-strict",
        "force_mode": "direct",
    }


def _single(attrs: Mapping[str, Any], key: str, path: str) -> int:
    values = attrs.get(key, [6] if key == "lmax_list" else [2])
    if not isinstance(values, list | tuple) or len(values) != 1:
        raise DataError(path, f"config.model.{key}", f"{values!r}: one resolution supported")
    return int(values[0])
