"""Layout ``equiformer``: the authors' Equiformer MD17 checkpoints (atomicarchitects/equiformer).

Their training scripts (``main_md17.py``, ``main_md17_dens.py`` @64cb7866) save
``{"state_dict": model.state_dict()}``, the EMA copy in a file of its own whose name contains
``ema``; the model is ``GraphAttentionTransformerMD17`` (energy head ``head.*``) or
``Equiformer_MD17_DeNS`` (``energy_head.*``, ``force_embed.*``, ``denoising_pos_head.*``).
The file holds no configuration and no target normalisation: the architecture is read from the
tensor shapes (cutoff and normalisers are the paper's MD17 values unless a ``config`` entry, the
YAML of ``--config-yml``, gives ``max_radius``), and the imported model predicts in the
reference's normalised units until ``set_normalization`` is called.

Every reference parameter maps one to one onto a dens-bench parameter (same parametrisation,
no rescaling): an ``e3nn`` tensor-product weight of a ``LinearRS`` is split per output irrep,
``alpha_dot`` [1, H, C] becomes [H, C].
Buffers the reference derives from its configuration (Wigner symbols, output masks) are
checked to be of a known kind and dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import torch

from bench.backbones.equiformer import DEGREE_DIVISORS
from bench.backbones.layers import IrrepsLinear
from bench.backbones.registry import build_backbone
from bench.errors import DataError
from bench.imports.base import ImportedModel, strip_prefixes, unknown_key

LAYOUT = "equiformer"
#: reference buffers rebuilt from the configuration (never weights); empty tensors too
DERIVED = re.compile(r"(\.output_mask|\._w3j_\d+_\d+_\d+)$")
#: the reference models' top-level modules
TOP_LEVEL = {
    "atom_embed",
    "rbf",
    "edge_deg_embed",
    "force_embed",
    "blocks",
    "norm",
    "head",
    "energy_head",
    "denoising_pos_head",
}
#: our module path prefix -> the reference's (the energy head is ``head`` without DeNS)
MODULES = (
    ("atom_embed.lin", "atom_embed.atom_type_lin"),
    ("edge_embed.const", "edge_deg_embed.exp"),
    ("edge_embed.radial", "edge_deg_embed.rad"),
    ("edge_embed.proj", "edge_deg_embed.proj"),
    ("force_embed.lin", "force_embed"),
    ("noise_head", "denoising_pos_head"),
    ("energy_head.lin_in", "{head}.0"),
    ("energy_head.lin_out", "{head}.2"),
)
BLOCK = (
    ("norm_attn", "norm_1"),
    ("norm_ffn", "norm_2"),
    ("attn", "ga"),
    ("ffn.lin_in", "ffn.fctp_1"),
    ("ffn.lin_out", "ffn.fctp_2"),
    ("shortcut", "ffn_shortcut"),
)
ATTENTION = (
    ("radial", "sep_act.dtp_rad"),
    ("lin_message", "sep_act.lin"),
    ("lin_alpha", "sep_alpha"),
    ("lin_value", "sep_value.lin"),
    ("tp_value.weight", "sep_value.dtp.tp.weight"),
)


def convert(checkpoint: Mapping[str, Any], path: str) -> ImportedModel:
    """The dens-bench Equiformer of an authors' MD17 checkpoint.

    Args:
        checkpoint: the loaded file, ``{"state_dict": {name: tensor}}`` (optionally ``config``).
        path: the file's path (errors name it; ``ema`` in its name marks EMA weights).

    Raises:
        DataError: not this layout (names the first unknown key), or inconsistent shapes.
    """
    if not isinstance(checkpoint.get("state_dict"), Mapping):
        raise DataError(path, "state_dict", f"missing: not an {LAYOUT} checkpoint")
    state = strip_prefixes(checkpoint["state_dict"])
    foreign = [k for k in state if k.split(".")[0] not in TOP_LEVEL]
    if foreign:
        raise unknown_key(path, foreign[0], LAYOUT)
    options = _options(state, checkpoint.get("config"), path)
    try:
        model = build_backbone("equiformer", "paper", "md17", **options)
    except ValueError as err:
        raise DataError(
            path, "state_dict", f"no dens-bench Equiformer has its shapes: {err}"
        ) from None
    head = "energy_head" if options["noise_head"] else "head"
    mapped, used = {}, set()
    for name, _ in model.named_parameters():
        ref = reference_name(name, head)
        if ref not in state:
            raise DataError(path, ref, f"missing (needed for dens-bench {name!r})")
        mapped.update(_convert_tensor(model, name, state[ref], path, ref))
        used.add(ref)
    for buffer in ("rbf.means", "rbf.betas"):  # the reference's values (its build dtype)
        if buffer in state:
            if not torch.allclose(state[buffer].double(), model.get_buffer(buffer).double()):
                raise DataError(path, buffer, "radial basis differs from the cutoff's")
            mapped[buffer] = state[buffer].detach().clone()
        used.add(buffer)
    extra = [k for k in state if k not in used and not is_derived(k, state[k])]
    if extra:
        raise unknown_key(path, extra[0], LAYOUT)
    full = model.state_dict()
    full.update(mapped)
    weights = "ema" if "ema" in os.path.basename(path).lower() else "raw"
    source = {"layout": LAYOUT, "file": os.path.basename(path), "config": checkpoint.get("config")}
    return ImportedModel("equiformer", "paper", options, full, weights, source, kind="md17")


def is_derived(key: str, value: torch.Tensor) -> bool:
    """A reference buffer rebuilt from the configuration (Wigner symbols, output masks, the
    empty weights of externally weighted tensor products), not a weight."""
    return value.numel() == 0 or DERIVED.search(key) is not None


def _options(state: Mapping[str, torch.Tensor], config: Any, path: str) -> dict[str, Any]:
    """Architecture options read from the tensor shapes (and ``max_radius`` from config)."""
    try:
        channels = state["atom_embed.atom_type_lin.bias.0"].numel()
        num_irreps = state["blocks.0.norm_1.affine_weight"].numel()
        hidden = state["edge_deg_embed.rad.net.0.weight"].shape
        options = {
            # the authors' DeNS model: force embedding and noise head together
            "force_encoding": "force_embed.tp.weight" in state,
            "noise_head": "force_embed.tp.weight" in state,
            "channels": channels,
            "num_elements": state["atom_embed.atom_type_lin.tp.weight"].numel() // channels,
            "num_blocks": 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks.")),
            "num_heads": state["blocks.0.ga.alpha_dot"].shape[1],
            "num_radial": hidden[1],
            "radial_hidden": hidden[0],
            "mlp_ratio": state["blocks.0.ffn.fctp_1.bias.0"].numel() // num_irreps,
            "feature_ratio": state["norm.affine_bias"].numel() // channels,
        }
    except (KeyError, IndexError) as err:
        raise DataError(path, str(err).strip("'"), f"missing: not an {LAYOUT} checkpoint") from None
    lmax = [l for l, d in DEGREE_DIVISORS.items() if sum(channels // x for x in d) == num_irreps]
    if not lmax:
        raise DataError(path, "blocks.0.norm_1.affine_weight", "node irreps of no known lmax")
    options["lmax"] = lmax[0]
    model_config = config.get("model", {}) if isinstance(config, Mapping) else {}
    if "max_radius" in model_config:
        options["cutoff"] = float(model_config["max_radius"])
    return options


def reference_name(name: str, head: str) -> str:
    """The reference's parameter name for dens-bench parameter ``name`` (``head``: the energy
    head's module name, ``energy_head`` with DeNS, else ``head``)."""
    if name.startswith("blocks."):
        _, k, rest = name.split(".", 2)
        rest = _rename(rest, BLOCK)
        if rest.startswith("ga."):
            rest = "ga." + _attention_name(rest[3:])
        return _leaf(f"blocks.{k}.{rest}")
    if name.startswith("noise_head."):
        return "denoising_pos_head." + _attention_name(name[len("noise_head.") :])
    name = _rename(name, MODULES).replace("{head}", head)
    return _leaf(name)


def _attention_name(rest: str) -> str:
    return _leaf(_rename(rest, ATTENTION))


def _rename(name: str, table: tuple[tuple[str, str], ...]) -> str:
    for ours, ref in table:
        if name == ours or name.startswith(ours + "."):
            return ref + name[len(ours) :]
    return name


def _leaf(name: str) -> str:
    """Leaf names: IrrepsLinear -> LinearRS, layer norm affine, radial MLP layers."""
    name = re.sub(r"\.weights\.\d+$", ".tp.weight", name)
    name = re.sub(r"\.biases\.(\d+)$", ".bias.0", name)
    if re.search(r"(^norm|norm_[12])\.(weight|bias)$", name):
        return re.sub(r"\.(weight|bias)$", r".affine_\1", name)
    return re.sub(r"((?:dtp_rad|\.rad))\.(\d+)\.(weight|bias)$", r"\1.net.\2.\3", name)


def _convert_tensor(
    model: torch.nn.Module, name: str, value: torch.Tensor, path: str, ref: str
) -> dict[str, torch.Tensor]:
    """{name: our tensor} from the reference tensor ``value`` (LinearRS weights split)."""
    ours = model.get_parameter(name)
    match = re.match(r"(.*)\.weights\.(\d+)$", name)
    if match:
        linear = model.get_submodule(match.group(1))
        value = _linear_block(linear, int(match.group(2)), value.reshape(-1), path, ref)
    elif name.endswith("alpha_dot"):
        value = value.reshape(ours.shape)
    if value.shape != ours.shape:
        raise DataError(path, ref, f"shape {tuple(value.shape)}, expected {tuple(ours.shape)}")
    return {name: value.detach().clone()}


def _linear_block(
    linear: IrrepsLinear, k: int, flat: torch.Tensor, path: str, ref: str
) -> torch.Tensor:
    """Our weight [fan_in, mul_out] of output block k from a LinearRS flat tensor-product
    weight: its instructions run over input blocks, then output blocks of the same irrep, each
    a [mul_in, mul_out] matrix."""
    chunks, offset = [], 0
    for mul_in, ir_in in linear.irreps_in:
        for j, (mul_out, ir_out) in enumerate(linear.irreps_out):
            if ir_out != ir_in:
                continue
            if j == k:
                chunks.append(flat[offset : offset + mul_in * mul_out].reshape(mul_in, mul_out))
            offset += mul_in * mul_out
    if flat.numel() != offset:
        raise DataError(path, ref, f"{flat.numel()} weights, expected {offset}")
    return torch.cat(chunks, dim=0)
