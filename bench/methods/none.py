"""``none``: plain S2EF training (energy and force losses, no corruption, no noise head)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from bench.methods.base import Method, Prepared, Targets, clean_prepared, energy_loss, force_loss


@dataclass(frozen=True)
class NoDenoisingConfig:
    """``none`` has no hyper-parameters of its own (``method.params`` must be empty); the
    loss weights lambda_E, lambda_F come from the ``loss`` section."""


class NoDenoising(Method):
    """The identity regime: ``prepare`` returns an untouched shallow copy of the batch.

    Loss: ``lambda_energy * |E' - E_hat'| + lambda_force * L2MAE(F', F_hat')`` over free atoms
    (primes: normalised by energy_std / force_std).

    Args:
        config: :class:`NoDenoisingConfig` (no fields).
        lambda_energy: lambda_E (dimensionless, >= 0).
        lambda_force: lambda_F (dimensionless, >= 0; not both 0).
    """

    name = "none"
    Config: ClassVar[type] = NoDenoisingConfig

    def __init__(
        self,
        config: NoDenoisingConfig | None = None,
        lambda_energy: float = 1.0,
        lambda_force: float = 80.0,
    ) -> None:
        self.config = NoDenoisingConfig() if config is None else config
        self.lambda_energy, self.lambda_force = check_weights(lambda_energy, lambda_force)

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
            "energy": self.lambda_energy * energy_loss(outputs, targets),
            "force": self.lambda_force * force_loss(outputs, targets, prepared.force_mask),
        }


def check_weights(lambda_energy: float, lambda_force: float) -> tuple[float, float]:
    """Validated (lambda_E, lambda_F): both finite and non-negative, not both zero."""
    e, f = float(lambda_energy), float(lambda_force)
    if not (e >= 0 and f >= 0) or e + f == 0 or e + f == float("inf"):
        raise ValueError(
            f"lambda_energy and lambda_force must be >= 0, finite and not both 0, got {e!r}, {f!r}"
        )
    return e, f
