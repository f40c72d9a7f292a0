"""``noisy-nodes``: Noisy Nodes (Godwin et al., ICLR 2022) as a regime on S2EF data.

Every structure, every step: all free atoms get ``eps ~ N(0, sigma^2 I3)`` (fixed sigma, no
task switching, no force encoding). The backbone forwards the noisy structure; the energy and
force terms still compare its predictions with the ORIGINAL labels, and the auxiliary term is
``mean_{free} ||eps_i / sigma - eps_hat_i||``.

Choices: the auxiliary weight goes linearly from ``lambda_dens`` to ``lambda_dens_final``
over training when the latter is set (Godwin et al. decay 15 -> 1), else stays constant. The
variant that denoises towards a RELAXED structure (IS2RE data with relaxed positions) needs
relaxed positions in the batch, which S2EF data does not carry; it is not implemented.
Random draws use the caller's CPU generator: the standard normals [N, 3] only.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from bench.data import keys
from bench.methods.base import Method, Prepared, Targets, energy_loss, force_loss, l2mae
from bench.methods.none import check_weights


@dataclass(frozen=True)
class NoisyNodesConfig:
    """The hyper-parameters of :class:`NoisyNodes` (``method.params``).

    Attributes:
        sigma: noise std in Angstrom (> 0, finite).
        lambda_dens: [lambda_DeNS, the denoising-term weight] at progress 0 (finite, >= 0).
        lambda_dens_final: the weight at progress 1 (linear in between; finite, >= 0); None
            keeps it constant.
    """

    #: old names in user YAML -> the one glossary name (bench.config module docstring)
    RENAMED: ClassVar[dict[str, str]] = {
        "lambda_noise": "lambda_dens",
        "lambda_noise_final": "lambda_dens_final",
    }

    sigma: float = 0.05
    lambda_dens: float = 5.0
    lambda_dens_final: float | None = None

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"sigma must be positive and finite, got {self.sigma!r}")
        for arg in ("lambda_dens", "lambda_dens_final"):
            value = getattr(self, arg)
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{arg} must be finite and >= 0, got {value!r}")


class NoisyNodes(Method):
    """Noisy Nodes: denoise every free atom of every structure, without force encoding.

    Args:
        config: the hyper-parameters (:class:`NoisyNodesConfig`).
        lambda_energy, lambda_force: lambda_E and lambda_F of Eq. 1 (>= 0, not both 0).
    """

    name = "noisy-nodes"
    Config: ClassVar[type] = NoisyNodesConfig
    requires_noise_head = True

    def __init__(
        self,
        config: NoisyNodesConfig | None = None,
        lambda_energy: float = 1.0,
        lambda_force: float = 80.0,
    ) -> None:
        c = self.config = NoisyNodesConfig() if config is None else config
        self.lambda_energy, self.lambda_force = check_weights(lambda_energy, lambda_force)
        self.sigma = float(c.sigma)
        self.lambda_dens = float(c.lambda_dens)
        self.lambda_dens_final = None if c.lambda_dens_final is None else float(c.lambda_dens_final)

    def noise_weight(self, progress: float) -> float:
        """The denoising weight at ``progress`` in [0, 1]."""
        if self.lambda_dens_final is None:
            return self.lambda_dens
        t = min(max(progress, 0.0), 1.0)
        return self.lambda_dens + t * (self.lambda_dens_final - self.lambda_dens)

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
            "energy": self.lambda_energy * energy_loss(outputs, targets),
            "force": self.lambda_force * force_loss(outputs, targets, prepared.force_mask),
            "noise": self.noise_weight(progress) * noise,
        }
