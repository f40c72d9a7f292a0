"""``dens``: Denoising Non-Equilibrium Structures (Liao, Smidt, Das 2024; spec:
docs/DENS.md section 2).

Per batch: draw the DeNS structures (Bernoulli(p_dens)), a noise scale per structure (fixed
sigma or one of T log-spaced scales), a corruption mask per atom (Bernoulli(corrupt_ratio),
free atoms of DeNS structures only), add ``eps ~ N(0, sigma^2 I3)`` to the corrupted atoms and
encode their RAW force labels. The backbone predicts the ORIGINAL energy, the forces and
``eps / sigma_norm``. Loss:

    lambda_E * |E' - E_hat'|                               (every structure)
  + lambda_F * mean_{free, uncorrupted} ||F'_i - F_hat'_i||  (primes: / energy_std, / force_std)
  + lambda_DeNS(progress) * mean_{corrupted} ||eps_i / sigma_norm - eps_hat_i||

Choices the spec leaves open, and what this module does:

1. Random draws: every call draws, in this order and whatever p_dens is, the task uniforms
   ([B] per structure, or [1] per batch), the noise-scale indices [B], the atom uniforms [N]
   and the standard normals [N, 3], all from the caller's CPU ``torch.Generator``. So a run's
   random stream does not depend on the outcomes, and ``denoise-no-force`` (this class with
   the encoding switched off) corrupts exactly as ``dens`` does for the same generator.
2. Multi-scale: the scale index is drawn per structure even under the per-batch task draw
   (as the released OC20 code does).
3. Masks: corrupted = DeNS structure AND atom draw < corrupt_ratio AND free (fixed atoms are
   never noised; the released option to noise fixed atoms is not offered). A DeNS structure
   whose draw corrupts no atom stays a DeNS structure: its energy target is unchanged and all
   its free atoms enter the force term.
4. Means (``atom_mean``): ``"per-term"``: the force term is ONE mean over all free
   uncorrupted atoms of the batch and the noise term ONE mean over all corrupted atoms (the
   spec; the released MD17 code). ``"pooled"``: the released OC20 trainer's hybrid loss
   (atomicarchitects/DeNS trainers/denoising_forces_trainer.py,
   compute_atomwise_denoising_pos_and_force_hybrid_loss): a single mean over ALL free atoms
   of ``w_i * ||target_i - pred_i||``, w_i = lambda_F (uncorrupted) or lambda_DeNS
   (corrupted); the force and noise terms are its two partial sums, so they add up to it.
5. Force encoding: the raw labels (not normalised) on corrupted atoms, exact zeros on every
   other atom (``encoded_forces`` is always set, so a backbone sees the same fields in every
   step), in ``encoded_force_unit``: eV/Angstrom, or kcal/mol/Angstrom, the unit the authors'
   MD17 code encodes (atomicarchitects/equiformer @64cb7866, main_md17_dens.py: ``data.force
   = data.dy``, the raw labels of its kcal/mol MD17 files), 23.06 times the eV/Angstrom
   values. The force embedding is a linear map of those values, so the unit sets how strongly
   the encoding enters the first node features; the MD17 profiles choose kcal/mol/Angstrom.
6. ``lambda_decay="linear"``: lambda_DeNS * (1 - progress) with progress = step / total_steps
   from the training loop (continuous; the released MD17 code decays per epoch).
7. ``noise_normalizer``: ``"sampled"`` divides eps by the structure's own sigma (v1 text),
   ``"sigma_high"`` by sigma_high (released OC20 code under multi-scale); with a fixed sigma
   both are sigma.
8. ``dens_energy=False`` (Table 1e index 3 ablation): the energy term is averaged over the
   non-DeNS structures only; DeNS structures then train forces and noise only.
9. ``encode_sigma=True`` (Table 1e index 5 ablation): the corrupted batch carries
   ``noise_sigma`` [N] (Angstrom; the structure's sigma on every atom of a DeNS structure,
   0 elsewhere) and the method then requires the ``sigma_encoding`` capability: a run refuses
   to pair this option with a backbone that has none rather than silently ignore it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from bench.data import keys
from bench.data.units import KCAL_PER_MOL_TO_EV
from bench.methods.base import Method, Prepared, Targets, energy_loss, force_loss, l2mae
from bench.methods.none import check_weights

TASK_DRAWS = ("structure", "batch")
ATOM_MEANS = ("per-term", "pooled")
NORMALIZERS = ("sampled", "sigma_high")
DECAYS = ("none", "linear")
#: encoded_force_unit -> encoded value per eV/Angstrom of force label
ENCODED_FORCE_UNITS = {"eV/A": 1.0, "kcal/mol/A": 1.0 / KCAL_PER_MOL_TO_EV}


@dataclass(frozen=True)
class DenoisingConfig:
    """The hyper-parameters DeNS shares with its ablation ``denoise-no-force`` (paper symbols
    in brackets).

    Attributes:
        p_dens: probability that a structure (or the whole batch) is a DeNS task, in [0, 1].
        sigma: fixed noise std in Angstrom, > 0 (used when ``multi_scale`` is False).
        multi_scale: draw sigma from ``num_sigmas`` log-spaced values in [sigma_low, sigma_high].
        sigma_low, sigma_high: Angstrom, 0 < sigma_low < sigma_high under multi-scale (sigma_high
            also normalises the noise target when ``noise_normalizer == "sigma_high"``).
        num_sigmas: T, the number of scales (>= 2 under multi-scale).
        corrupt_ratio: r in (0, 1], probability that a free atom of a DeNS structure is noised.
        lambda_dens: [lambda_DeNS] weight of the noise term at progress 0, finite and >= 0.
        lambda_decay: ``"none"`` or ``"linear"`` (to 0 at the end of training; MD17).
        task_draw: ``"structure"`` (one draw per structure) or ``"batch"`` (one per batch).
        noise_normalizer: ``"sampled"`` or ``"sigma_high"``.
        encode_sigma: expose each structure's sigma to the backbone (ablation).
        dens_energy: train the original-structure energy on DeNS structures.
        atom_mean: ``"per-term"`` or ``"pooled"`` (module docstring, point 4).
    """

    p_dens: float = 0.25
    sigma: float = 0.05
    multi_scale: bool = False
    sigma_low: float = 0.01
    sigma_high: float | None = None
    num_sigmas: int = 50
    corrupt_ratio: float = 0.25
    lambda_dens: float = 5.0
    lambda_decay: str = "none"
    task_draw: str = "structure"
    noise_normalizer: str = "sampled"
    encode_sigma: bool = False
    dens_energy: bool = True
    atom_mean: str = "per-term"

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        _check_choice("atom_mean", self.atom_mean, ATOM_MEANS)
        _check_choice("lambda_decay", self.lambda_decay, DECAYS)
        _check_choice("task_draw", self.task_draw, TASK_DRAWS)
        _check_choice("noise_normalizer", self.noise_normalizer, NORMALIZERS)
        if not 0.0 <= self.p_dens <= 1.0:
            raise ValueError(f"p_dens must be in [0, 1], got {self.p_dens!r}")
        if not 0.0 < self.corrupt_ratio <= 1.0:
            raise ValueError(f"corrupt_ratio must be in (0, 1], got {self.corrupt_ratio!r}")
        if not (self.lambda_dens >= 0 and math.isfinite(self.lambda_dens)):
            raise ValueError(f"lambda_dens must be finite and >= 0, got {self.lambda_dens!r}")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"sigma must be positive and finite, got {self.sigma!r}")
        if self.multi_scale:
            low, high = self.sigma_low, self.sigma_high
            if high is None or not 0 < low < high < math.inf:
                raise ValueError(
                    "sigma_high: multi-scale needs 0 < sigma_low < sigma_high, "
                    f"got {low!r}, {high!r}"
                )
            if self.num_sigmas < 2:
                raise ValueError(f"num_sigmas must be >= 2, got {self.num_sigmas!r}")


@dataclass(frozen=True)
class DeNSConfig(DenoisingConfig):
    """The hyper-parameters of :class:`DeNS` (``method.params``): those of
    :class:`DenoisingConfig` and

    Attributes:
        encoded_force_unit: ``"eV/A"`` or ``"kcal/mol/A"``, the unit of the encoded force
            labels (module docstring, point 5).
    """

    encoded_force_unit: str = "eV/A"

    def _check(self) -> None:
        super()._check()
        _check_choice("encoded_force_unit", self.encoded_force_unit, tuple(ENCODED_FORCE_UNITS))


class DeNS(Method):
    """DeNS with force encoding; see the module docstring for the exact procedure.

    Args:
        config: the hyper-parameters (:class:`DeNSConfig`).
        lambda_energy, lambda_force: lambda_E and lambda_F of Eq. 1 (>= 0, not both 0).
    """

    name = "dens"
    Config: ClassVar[type] = DeNSConfig
    requires_noise_head = True
    #: also ``denoise-no-force``, whose encoder is fed zeros: it differs from ``dens`` in the
    #: encoded values only (same parameters, same initial weights)
    requires_force_encoding = True
    #: encode the raw forces of corrupted atoms (False: ``denoise-no-force``)
    encode_forces = True

    def __init__(
        self,
        config: DeNSConfig | None = None,
        lambda_energy: float = 1.0,
        lambda_force: float = 80.0,
    ) -> None:
        c = self.config = DeNSConfig() if config is None else config
        self.lambda_energy, self.lambda_force = check_weights(lambda_energy, lambda_force)
        self.p_dens, self.corrupt_ratio = float(c.p_dens), float(c.corrupt_ratio)
        self.lambda_dens, self.lambda_decay = float(c.lambda_dens), c.lambda_decay
        self.task_draw, self.noise_normalizer = c.task_draw, c.noise_normalizer
        self.encode_sigma, self.dens_energy = bool(c.encode_sigma), bool(c.dens_energy)
        self.atom_mean = c.atom_mean
        #: encoded value per eV/Angstrom (None: ``denoise-no-force``, which encodes zeros)
        self.force_scale = ENCODED_FORCE_UNITS[c.encoded_force_unit] if self.encode_forces else None
        self.requires_sigma_encoding = self.encode_sigma
        self.sigmas = _noise_scales(c)
        self.sigma_norm_value = (
            float(c.sigma_high) if c.multi_scale and c.noise_normalizer == "sigma_high" else None
        )

    def dens_weight(self, progress: float) -> float:
        """lambda_DeNS at ``progress`` in [0, 1]."""
        if self.lambda_decay == "linear":
            return self.lambda_dens * (1.0 - min(max(progress, 0.0), 1.0))
        return self.lambda_dens

    def prepare(self, batch, generator: torch.Generator) -> Prepared:
        """A corrupted shallow copy of ``batch`` (input never mutated); see module docstring."""
        n_struct, n_atoms = int(batch.num_graphs), batch.pos.shape[0]
        device, dtype = batch.pos.device, batch.pos.dtype
        n_task = n_struct if self.task_draw == "structure" else 1
        task_u = torch.rand(n_task, generator=generator, dtype=torch.float64)
        scale_idx = torch.randint(len(self.sigmas), (n_struct,), generator=generator)
        atom_u = torch.rand(n_atoms, generator=generator, dtype=torch.float64)
        normal = torch.randn(n_atoms, 3, generator=generator, dtype=torch.float64)

        dens_structure = (task_u < self.p_dens).expand(n_struct).to(device)
        sigma = torch.where(dens_structure, self.sigmas[scale_idx].to(device), 0.0)
        atom_sigma = sigma[batch.batch]
        mask = dens_structure[batch.batch] & (atom_u.to(device) < self.corrupt_ratio)
        mask = mask & ~batch.fixed
        eps = torch.where(mask[:, None], normal.to(device) * atom_sigma[:, None], 0.0)
        norm = atom_sigma if self.sigma_norm_value is None else self.sigma_norm_value
        norm = torch.as_tensor(norm, dtype=torch.float64, device=device)
        target = torch.where(mask[:, None], eps / torch.clamp(norm, min=1e-12)[..., None], 0.0)

        new = copy.copy(batch)
        new[keys.POS] = batch.pos + eps.to(dtype)
        if self.force_scale is None:
            encoded = torch.zeros_like(batch.forces)
        else:
            encoded = batch.forces * self.force_scale  # exact for eV/A (x * 1.0 == x)
        new[keys.ENCODED_FORCES] = torch.where(mask[:, None], encoded, 0.0).to(dtype)
        if self.encode_sigma:
            new[keys.NOISE_SIGMA] = atom_sigma.to(dtype)
        return Prepared(
            new,
            target.to(dtype),
            mask,
            dens_structure,
            sigma.to(dtype),
            force_mask=~batch.fixed & ~mask,
        )

    def loss(
        self,
        outputs: dict[str, Tensor],
        prepared: Prepared,
        targets: Targets,
        progress: float = 0.0,
    ) -> dict[str, Tensor]:
        """``{"energy", "force", "noise"}``, weighted; see the module docstring."""
        energy_mask = None if self.dens_energy else ~prepared.dens_structure
        energy = self.lambda_energy * energy_loss(outputs, targets, energy_mask)
        if self.atom_mean == "pooled":
            return {"energy": energy} | self._pooled(outputs, prepared, targets, progress)
        noise = l2mae(outputs[keys.OUT_NOISE], prepared.noise_target, prepared.noise_mask)
        return {
            "energy": energy,
            "force": self.lambda_force * force_loss(outputs, targets, prepared.force_mask),
            "noise": self.dens_weight(progress) * noise,
        }

    def _pooled(
        self, outputs: dict[str, Tensor], prepared: Prepared, targets: Targets, progress: float
    ) -> dict[str, Tensor]:
        """The released OC20 hybrid loss, split into its force and noise partial sums."""
        std = targets.force_std
        force_err = torch.linalg.vector_norm(
            (outputs[keys.OUT_FORCES] - targets.forces) / std, dim=-1
        )
        noise_err = torch.linalg.vector_norm(
            outputs[keys.OUT_NOISE] - prepared.noise_target, dim=-1
        )
        count = (prepared.force_mask | prepared.noise_mask).sum().clamp(min=1)
        return {
            "force": self.lambda_force * force_err[prepared.force_mask].sum() / count,
            "noise": self.dens_weight(progress) * noise_err[prepared.noise_mask].sum() / count,
        }


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _noise_scales(c: DeNSConfig) -> Tensor:
    """float64 [T] noise stds in Angstrom: [sigma], or exp(linspace(log low, log high, T))."""
    if not c.multi_scale:
        return torch.tensor([float(c.sigma)], dtype=torch.float64)
    low, high = math.log(c.sigma_low), math.log(c.sigma_high)
    return torch.exp(torch.linspace(low, high, c.num_sigmas, dtype=torch.float64))
