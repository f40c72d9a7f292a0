"""S2EF metrics as the OC20 evaluator defines them, in meV and meV/Angstrom.

Inputs are whole-split predictions in eV and eV/Angstrom; fixed atoms are excluded from every
force metric. Per-atom metrics average over all free atoms of the split; EFwT averages over
structures.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: EFwT thresholds (OC20): |dE| < 0.02 eV and max over free atoms and components |dF| < 0.03
EFWT_ENERGY_EV = 0.02
EFWT_FORCE_EV_PER_A = 0.03


def s2ef_metrics(
    energy_pred: Tensor,
    energy_true: Tensor,
    forces_pred: Tensor,
    forces_true: Tensor,
    free: Tensor,
    structure: Tensor,
    periodic: bool,
) -> dict[str, float]:
    """Energy MAE (meV), force MAE (meV/Angstrom, mean over free atoms and x, y, z) and, for
    periodic data, force cosine, force magnitude MAE (meV/Angstrom) and EFwT.

    Args:
        energy_pred, energy_true: [B] eV. forces_pred, forces_true: [N, 3] eV/Angstrom.
        free: [N] bool (not fixed). structure: [N] long, index of each atom's structure.
        periodic: add the OC20 extras.
    """
    e_err = (energy_pred.double() - energy_true.double()).abs()
    f_err = (forces_pred.double() - forces_true.double())[free]
    out = {
        "energy_mae_mev": 1000.0 * float(e_err.mean()),
        "force_mae_mev_per_a": 1000.0 * float(f_err.abs().mean()) if f_err.numel() else 0.0,
        "n_structures": int(energy_true.numel()),
    }
    if periodic:
        out.update(
            _periodic_extras(
                e_err, forces_pred.double()[free], forces_true.double()[free], structure[free]
            )
        )
    return out


def _periodic_extras(e_err: Tensor, pred: Tensor, true: Tensor, structure: Tensor) -> dict:
    """Force cosine, magnitude error and EFwT over the free atoms ``pred``/``true`` [M, 3]."""
    cos = torch.nn.functional.cosine_similarity(pred, true, dim=-1)
    magnitude = (pred.norm(dim=-1) - true.norm(dim=-1)).abs()
    worst = torch.zeros_like(e_err).scatter_reduce(
        0, structure, (pred - true).abs().amax(dim=-1), reduce="amax", include_self=True
    )
    within = (e_err < EFWT_ENERGY_EV) & (worst < EFWT_FORCE_EV_PER_A)
    return {
        "force_cos": float(cos.mean()) if cos.numel() else 0.0,
        "force_magnitude_mae_mev_per_a": 1000.0 * float(magnitude.mean()) if cos.numel() else 0.0,
        "efwt": float(within.double().mean()),
    }


def prediction_metrics(
    energy_pred: Tensor,
    energy_true: Tensor,
    forces_pred: Tensor,
    forces_true: Tensor,
    free: Tensor,
    n_atoms: Tensor,
) -> dict[str, float]:
    """What ``bench eval --path FILE`` reports, in meV and meV/Angstrom.

    Energy MAE and RMSE (per structure), per-atom energy MAE (|dE| / n_atoms, averaged over
    structures), force MAE and RMSE (over free atoms and x, y, z) and force cosine (mean over
    free atoms of cos(F_pred, F_true); an atom with a zero true or predicted force counts 0).

    Args:
        energy_pred, energy_true: [B] eV. forces_pred, forces_true: [N, 3] eV/Angstrom.
        free: [N] bool. n_atoms: [B] long, atoms per structure.
    """
    e_err = energy_pred.double() - energy_true.double()
    f_err = (forces_pred.double() - forces_true.double())[free]
    cos = torch.nn.functional.cosine_similarity(
        forces_pred.double()[free], forces_true.double()[free], dim=-1
    )
    return {
        "energy_mae_mev": 1000.0 * float(e_err.abs().mean()),
        "energy_rmse_mev": 1000.0 * float(e_err.pow(2).mean().sqrt()),
        "energy_mae_per_atom_mev": 1000.0 * float((e_err.abs() / n_atoms.double()).mean()),
        "force_mae_mev_per_a": 1000.0 * float(f_err.abs().mean()) if f_err.numel() else 0.0,
        "force_rmse_mev_per_a": (
            1000.0 * float(f_err.pow(2).mean().sqrt()) if f_err.numel() else 0.0
        ),
        "force_cos": float(cos.mean()) if cos.numel() else 0.0,
        "n_structures": int(energy_true.numel()),
    }
