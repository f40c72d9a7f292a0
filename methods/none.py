"""``none``: plain S2EF training (energy and force losses, no corruption, no noise head)."""

from __future__ import annotations

import torch
from torch import Tensor

from methods.base import Method, Prepared, Targets, clean_prepared, energy_loss, force_loss


class NoDenoising(Method):
    """The identity regime: ``prepare`` returns an untouched shallow copy of the batch.

    Loss: ``energy_weight * |E' - E_hat'| + force_weight * L2MAE(F', F_hat')`` over free atoms
    (primes: normalised by energy_std / force_std).

    Args:
        energy_weight: lambda_E (dimensionless, > 0).
        force_weight: lambda_F (dimensionless, >= 0).
    """

    name = "none"

    def __init__(self, energy_weight: float = 1.0, force_weight: float = 80.0) -> None:
        self.energy_weight, self.force_weight = check_weights(energy_weight, force_weight)

    def prepare(self, batch, generator: torch.Generator) -> Prepared:
        """An uncorrupted copy of ``batch``; no ``encoded_forces``, no noise targets."""
        return clean_prepared(batch)

    def loss(
        self,
        outputs: dict[str, Tensor],
        prepared: Prepared,
        targets: Targets,
        progress: float = 0.0,
    ) -> dict[str, Tensor]:
        """``{"energy", "force"}``: weighted MAE of energies, L2MAE of free-atom forces."""
        return {
            "energy": self.energy_weight * energy_loss(outputs, targets),
            "force": self.force_weight * force_loss(outputs, targets, prepared.force_mask),
        }


def check_weights(energy_weight: float, force_weight: float) -> tuple[float, float]:
    """Validated (lambda_E, lambda_F): both finite and non-negative, not both zero."""
    e, f = float(energy_weight), float(force_weight)
    if not (e >= 0 and f >= 0) or e + f == 0 or e + f == float("inf"):
        raise ValueError(
            f"energy_weight and force_weight must be >= 0, finite and not both 0, got {e!r}, {f!r}"
        )
    return e, f
