"""The method protocol: a training regime is a corruption plus its loss terms.

``prepare`` returns a NEW batch (the input is never mutated) together with the noise
targets; ``loss`` returns named, already-weighted terms that sum to the total loss.
The training loop never branches on a method's name.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from bench.data.heads import HeadRequest


@dataclass(frozen=True)
class Prepared:
    """A batch after a method's corruption.

    Attributes:
        batch: the (copied) batch to forward; ``pos`` possibly noised (Angstrom) and
            ``encoded_forces`` [N, 3] set (raw forces of corrupted atoms, in DeNS's
            ``encoded_force_unit``), zeroed, or absent (methods that do not encode).
        noise_target: [N, 3] eps / sigma_norm (dimensionless); zero where not noised.
        noise_mask: [N] bool, atoms whose noise is a training target.
        dens_structure: [B] bool, structures drawn for the denoising task.
        sigma: [B] noise std used per structure, Angstrom (0 for clean structures).
        force_mask: [N] bool, atoms whose force is a training target (free atoms the method
            does not exclude).

    The loss reads the masks; the model gets them as :attr:`heads`.
    """

    batch: object
    noise_target: Tensor
    noise_mask: Tensor
    dens_structure: Tensor
    sigma: Tensor
    force_mask: Tensor

    @property
    def heads(self) -> HeadRequest:
        """The atoms whose vector outputs the loss reads: the model's head request."""
        return HeadRequest(force_atoms=self.force_mask, noise_atoms=self.noise_mask)


@dataclass(frozen=True)
class Targets:
    """Labels and normalisation of the ORIGINAL (uncorrupted) batch.

    Attributes:
        energy: [B] eV. forces: [N, 3] eV/Angstrom. energy_std: eV. force_std: eV/Angstrom.
    """

    energy: Tensor
    forces: Tensor
    energy_std: float
    force_std: float


def l2mae(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean over (masked) rows of the Euclidean norm of ``pred - target``; 0 if none selected.

    pred, target: [N, 3]; mask: [N] bool.
    """
    err = torch.linalg.vector_norm(pred - target, dim=-1)
    if mask is not None:
        err = err[mask]
    if err.numel() == 0:
        return pred.sum() * 0.0
    return err.mean()


def energy_loss(outputs: dict[str, Tensor], targets: Targets, mask: Tensor | None = None) -> Tensor:
    """Mean over (masked) structures of ``|E_hat - E| / energy_std`` (the MAE of the
    normalised energy); 0 when no structure is selected. mask: [B] bool.
    """
    err = (outputs["energy"] - targets.energy).abs() / targets.energy_std
    if mask is not None:
        err = err[mask]
    if err.numel() == 0:
        return outputs["energy"].sum() * 0.0
    return err.mean()


def force_loss(outputs: dict[str, Tensor], targets: Targets, mask: Tensor) -> Tensor:
    """L2MAE of the normalised forces ``F / force_std`` over the atoms in ``mask`` [N] bool."""
    return l2mae(outputs["forces"] / targets.force_std, targets.forces / targets.force_std, mask)


def targets_from_batch(batch, energy_std: float, force_std: float) -> Targets:
    """The labels of an ORIGINAL (uncorrupted) batch as :class:`Targets`."""
    return Targets(
        energy=batch.energy,
        forces=batch.forces,
        energy_std=float(energy_std),
        force_std=float(force_std),
    )


def clean_prepared(batch) -> Prepared:
    """A :class:`Prepared` of an uncorrupted shallow copy of ``batch`` (no noise anywhere)."""
    n_atoms, n_struct = batch.pos.shape[0], int(batch.num_graphs)
    device, dtype = batch.pos.device, batch.pos.dtype
    return Prepared(
        batch=copy.copy(batch),
        noise_target=torch.zeros(n_atoms, 3, dtype=dtype, device=device),
        noise_mask=torch.zeros(n_atoms, dtype=torch.bool, device=device),
        dens_structure=torch.zeros(n_struct, dtype=torch.bool, device=device),
        sigma=torch.zeros(n_struct, dtype=dtype, device=device),
        force_mask=~batch.fixed,
    )


class Method:
    """Base class of the training regimes (see bench/methods/__init__.py for the names)."""

    name: ClassVar[str] = "method"
    #: the frozen dataclass of the hyper-parameters (``method.params``), the constructor's
    #: first argument (bench.methods.method_config builds it)
    Config: ClassVar[type]
    #: prepared batches carry ``encoded_forces`` the backbone must encode
    requires_force_encoding: ClassVar[bool] = False
    #: the loss reads the model's ``noise`` output
    requires_noise_head: ClassVar[bool] = False
    #: prepared batches carry ``noise_sigma`` the backbone must encode (an instance attribute
    #: where an option decides it)
    requires_sigma_encoding: bool = False

    def backbone_flags(self) -> dict[str, bool]:
        """The capability keyword arguments the backbone is built with: exactly what this
        method requires (``encode_sigma`` only when required)."""
        flags = {
            "force_encoding": self.requires_force_encoding,
            "noise_head": self.requires_noise_head,
        }
        return flags | ({"encode_sigma": True} if self.requires_sigma_encoding else {})

    def prepare(self, batch, generator: torch.Generator) -> Prepared:
        """Corrupt a copy of ``batch`` with draws from ``generator`` (schedules over training
        act in :meth:`loss`, which gets the progress)."""
        raise NotImplementedError

    def loss(
        self,
        outputs: dict[str, Tensor],
        prepared: Prepared,
        targets: Targets,
        progress: float = 0.0,
    ) -> dict[str, Tensor]:
        """Named, weighted loss terms; their sum is the training loss."""
        raise NotImplementedError
