"""Helpers shared by the parity harness (tools/parity) and its tests: fixture inputs, our
outputs on them, and initialisation statistics.

Tensors of one *role* (the same parameter in every transformer block but the last, or over
seeds) share a distribution, so their elements are pooled: a role's statistics are
``[mean, std, elements]``. Two sets of statistics agree when every role's mean and std differ
by less than ``z`` standard errors of the difference (sampling error of the pooled elements).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

#: standard errors allowed between two independent samples' means and stds
Z_TOLERANCE = 6.0


def role(name: str, num_blocks: int | None, blocks: str = "blocks") -> str:
    """``name`` with the index of ``<blocks>.k`` replaced: ``*`` for all but the last block,
    ``last`` for it (every block is ``*`` when ``num_blocks`` is None)."""
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == blocks:
        last = num_blocks is not None and int(parts[1]) == num_blocks - 1
        parts[1] = "last" if last else "*"
    return ".".join(parts)


def pooled_stats(
    tensors: Iterable[tuple[str, torch.Tensor]],
    num_blocks: int | None = None,
    blocks: str = "blocks",
) -> dict[str, list[float]]:
    """{role: [mean, std, elements]} of the elements of every tensor of that role."""
    groups: dict[str, list[torch.Tensor]] = {}
    for name, value in tensors:
        flat = value.detach().double().reshape(-1)
        groups.setdefault(role(name, num_blocks, blocks), []).append(flat)
    out = {}
    for key, values in groups.items():
        flat = torch.cat(values)
        std = flat.std().item() if flat.numel() > 1 else 0.0
        out[key] = [float(f"{flat.mean().item():.5g}"), float(f"{std:.5g}"), flat.numel()]
    return out


def stats_mismatches(
    ours: dict[str, list[float]], reference: dict[str, list[float]], z: float = Z_TOLERANCE
) -> list[str]:
    """Roles whose statistics differ beyond sampling error (one line each; empty: agree).

    Constant roles (reference std 0: norm weights, zero biases) must match exactly. Otherwise
    with sigma the reference std and n, m the pooled element counts, the standard error of a
    difference of means is ``sigma sqrt(1/n + 1/m)``; that of stds is at most the same for any
    distribution with kurtosis <= 5 (Gaussian 3, uniform 1.8), so both use it.
    """
    problems = [f"{k}: only in ours" for k in ours if k not in reference]
    problems += [f"{k}: missing in ours" for k in reference if k not in ours]
    for key in sorted(set(ours) & set(reference)):
        (m1, s1, n1), (m0, s0, n0) = ours[key], reference[key]
        if s0 == 0.0:
            if s1 > 1e-12 or abs(m1 - m0) > 1e-9:
                problems.append(f"{key}: ours mean {m1:.5g} std {s1:.5g}, reference constant {m0}")
            continue
        # 5-digit rounding of the stored statistics adds a relative 1e-5
        tol = z * s0 * math.sqrt(1 / n0 + 1 / n1) + 1e-5 * s0
        if abs(m1 - m0) > tol or abs(s1 - s0) > tol:
            problems.append(
                f"{key}: ours mean {m1:.5g} std {s1:.5g}, "
                f"reference {m0:.5g} {s0:.5g} (tol {tol:.3g})"
            )
    return problems


def md17_inputs(path: str | Path, frames: Iterable[int], noise_atoms: Iterable[int]) -> dict:
    """Frames of an rMD17 NPZ file as float64 tensors: ``z`` [N], ``pos`` [N, 3] (Angstrom),
    ``forces`` [N, 3] as stored (kcal/mol/Angstrom: fixtures only need fixed numbers),
    ``batch`` [N] and ``noise_mask`` [N] (True at the concatenated atom indices ``noise_atoms``)."""
    data, frames = np.load(path), list(frames)
    n = data["coords"].shape[1]
    mask = torch.zeros(n * len(frames), dtype=torch.bool)
    mask[list(noise_atoms)] = True
    return {
        "z": torch.as_tensor(np.tile(data["nuclear_charges"], len(frames)), dtype=torch.long),
        "pos": torch.as_tensor(data["coords"][frames].reshape(-1, 3)),
        "forces": torch.as_tensor(data["forces"][frames].reshape(-1, 3)),
        "batch": torch.arange(len(frames)).repeat_interleave(n),
        "noise_mask": mask,
    }


def equiformer_outputs(imported, x: dict) -> dict[str, torch.Tensor]:
    """Our float64 eval-mode outputs for an imported Equiformer on :func:`md17_inputs`, named as
    the reference fixtures: ``energy`` [B], ``forces`` [N, 3]; with DeNS also the call with the
    forces of the ``noise_mask`` atoms encoded: ``encoded_energy`` and ``encoded_dy`` (noise at
    the masked atoms, forces elsewhere: the reference's combined output)."""
    from torch_geometric.data import Batch, Data

    from bench.backbones.registry import build_backbone
    from bench.data import keys

    model = build_backbone(imported.backbone, imported.preset, "md17", **imported.options)
    model = model.double().eval()
    model.load_state_dict(imported.state_dict)
    frames = [x["batch"] == b for b in range(int(x["batch"].max()) + 1)]
    batch = Batch.from_data_list(
        [
            Data(z=x["z"][f], pos=x["pos"][f], fixed=torch.zeros(int(f.sum()), dtype=torch.bool))
            for f in frames
        ]
    )
    res = model(batch)
    out = {"energy": res[keys.OUT_ENERGY], "forces": res[keys.OUT_FORCES]}
    if imported.options.get("noise_head"):
        mask = x["noise_mask"][:, None]
        batch[keys.ENCODED_FORCES] = torch.where(mask, x["forces"], 0.0)
        res = model(batch)
        out["encoded_energy"] = res[keys.OUT_ENERGY]
        out["encoded_dy"] = torch.where(mask, res[keys.OUT_NOISE], res[keys.OUT_FORCES])
    return {k: v.detach() for k, v in out.items()}
