"""``noisy-nodes``: Noisy Nodes (Godwin et al., ICLR 2022) as a regime on S2EF data.

Every structure, every step: all free atoms get ``eps ~ N(0, sigma^2 I3)`` (fixed sigma, no
task switching, no force encoding). The backbone forwards the noisy structure; the energy and
force terms still compare its predictions with the ORIGINAL labels, and the auxiliary term is
``mean_{free} ||eps_i / sigma - eps_hat_i||``.

Choices: the auxiliary weight goes linearly from ``lambda_noise`` to ``lambda_noise_final``
over training when the latter is set (Godwin et al. decay 15 -> 1), else stays constant. The
variant that denoises towards a RELAXED structure (IS2RE data with relaxed positions) needs
relaxed positions in the batch, which S2EF data does not carry; it is not implemented.
Random draws use the caller's CPU generator: the standard normals [N, 3] only.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor

from bench.data import keys
from methods.base import Method, Prepared, Targets, energy_loss, force_loss, l2mae
from methods.none import check_weights


class NoisyNodes(Method):
    """Noisy Nodes: denoise every free atom of every structure, without force encoding.

    Args:
        energy_weight: lambda_E. force_weight: lambda_F.
        sigma: noise std in Angstrom (> 0).
        lambda_noise: weight of the denoising term at progress 0 (>= 0).
        lambda_noise_final: weight at progress 1 (linear in between); None keeps it constant.
    """

    name = "noisy-nodes"
    requires_noise_head = True

    def __init__(
        self,
        energy_weight: float = 1.0,
        force_weight: float = 80.0,
        sigma: float = 0.05,
        lambda_noise: float = 5.0,
        lambda_noise_final: float | None = None,
    ) -> None:
        self.energy_weight, self.force_weight = check_weights(energy_weight, force_weight)
        if not (sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
        for arg, value in (
            ("lambda_noise", lambda_noise),
            ("lambda_noise_final", lambda_noise_final),
        ):
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{arg} must be finite and >= 0, got {value!r}")
        self.sigma = float(sigma)
        self.lambda_noise = float(lambda_noise)
        self.lambda_noise_final = None if lambda_noise_final is None else float(lambda_noise_final)

    def noise_weight(self, progress: float) -> float:
        """The denoising weight at ``progress`` in [0, 1]."""
        if self.lambda_noise_final is None:
            return self.lambda_noise
        t = min(max(progress, 0.0), 1.0)
        return self.lambda_noise + t * (self.lambda_noise_final - self.lambda_noise)

    def prepare(self, batch, generator: torch.Generator) -> Prepared:
        """A noisy shallow copy of ``batch`` (all free atoms); no ``encoded_forces``."""
        n_atoms, n_struct = batch.pos.shape[0], int(batch.num_graphs)
        device, dtype = batch.pos.device, batch.pos.dtype
        normal = torch.randn(n_atoms, 3, generator=generator, dtype=torch.float64).to(device)
        mask = ~batch.fixed
        eps = torch.where(mask[:, None], normal * self.sigma, 0.0)
        new = copy.copy(batch)
        new[keys.POS] = batch.pos + eps.to(dtype)
        return Prepared(
            batch=new,
            noise_target=torch.where(mask[:, None], normal, 0.0).to(dtype),
            noise_mask=mask,
            dens_structure=torch.ones(n_struct, dtype=torch.bool, device=device),
            sigma=torch.full((n_struct,), self.sigma, dtype=dtype, device=device),
            force_mask=mask,
        )

    def loss(
        self,
        outputs: dict[str, Tensor],
        prepared: Prepared,
        targets: Targets,
        progress: float = 0.0,
    ) -> dict[str, Tensor]:
        """``{"energy", "force", "noise"}``: original labels vs noisy-input predictions."""
        noise = l2mae(outputs[keys.OUT_NOISE], prepared.noise_target, prepared.noise_mask)
        return {
            "energy": self.energy_weight * energy_loss(outputs, targets),
            "force": self.force_weight * force_loss(outputs, targets, prepared.force_mask),
            "noise": self.noise_weight(progress) * noise,
        }
