"""dens-bench's side of the fairchem parity fixtures: predictions of an imported run directory
on a fixture's inputs, and their differences from the reference's outputs.

Needs no reference code (the default test suite uses it: tests/unit/imports). Reference
outputs are in its normalised units; forces are de-normalised with the checkpoint's own
normaliser before comparing (* force std, eV/A; noise: as predicted, A), and our energies are
normalised ((E - mean) / std), so the energy mean cannot hide a model difference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.calculator import atoms_to_inputs
from bench.data import keys
from bench.data.torch_data import collate
from bench.train.setup import load_run_model


def our_outputs(run_dir: Path, atoms, inputs: dict, dens: bool) -> dict[str, np.ndarray]:
    """Predictions of the run at ``run_dir`` (float64) on the fixture ``inputs``: clean
    ``energy`` [1] and ``forces`` [N, 3]; with ``dens`` also the denoising forward on
    ``noisy_pos`` with ``encoded_forces`` encoded on the ``noise_mask`` atoms:
    ``denoise_energy``, ``noise``, ``denoise_forces``."""
    model, _ = load_run_model(run_dir)
    model = model.double().eval()
    batch = collate([atoms_to_inputs(atoms)], torch.float64)
    with torch.no_grad():
        out = model(batch)
        result = {"energy": out["energy"], "forces": out["forces"]}
        if dens:
            mask = torch.as_tensor(inputs["noise_mask"])
            batch.pos = torch.as_tensor(inputs["noisy_pos"]).clone()
            batch[keys.ENCODED_FORCES] = torch.as_tensor(inputs["encoded_forces"]) * mask[:, None]
            out = model(batch)
            result |= {
                "denoise_energy": out["energy"],
                "noise": out["noise"],
                "denoise_forces": out["forces"],
            }
    return {k: v.numpy() for k, v in result.items()}


def reference_in_units(ref: dict, norm: dict) -> dict[str, np.ndarray]:
    """The reference's outputs with forces de-normalised (energies stay normalised); its
    combined denoising ``forces`` output split into noise (masked atoms) and forces."""
    fstd = norm["force_std"]
    out = {"energy": ref["energy"], "forces": ref["forces"] * fstd}
    if "denoise_output" in ref:
        mask = ref["noise_mask"].astype(bool)
        out |= {
            "denoise_energy": ref["denoise_energy"],
            "noise": ref["denoise_output"][mask],
            "denoise_forces": ref["denoise_output"][~mask] * fstd,
        }
    return out


def differences(
    ref: dict, ours: dict, noise_mask: np.ndarray | None, norm: dict
) -> dict[str, dict]:
    """``{output: {"max_abs", "max_rel"}}``; max_rel is max |a - b| / max |b| per output;
    energies in normalised units."""
    out = {}
    for name, expected in ref.items():
        got = ours[name]
        if "energy" in name:
            got = (got - norm["energy_mean"]) / norm["energy_std"]
        elif name == "noise":
            got = got[noise_mask]
        elif name == "denoise_forces":
            got = got[~noise_mask]
        diff = float(np.max(np.abs(got - expected)))
        out[name] = {"max_abs": diff, "max_rel": diff / float(np.max(np.abs(expected)))}
    return out
