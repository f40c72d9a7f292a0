"""Test helpers shared by every backbone's tests: random inputs, symmetry and gradient checks.

Models are called as ``model(batch) -> {"energy": [B], "forces": [N, 3], "noise": [N, 3]?}``
(see bench.backbones.base). Put the model in eval mode (no dropout) and use float64 for tight
tolerances. Transformations return NEW batches; inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import numpy as np
import torch
from torch import Tensor

from bench.data import keys
from bench.data.structure import Structure
from bench.data.torch_data import collate

__all__ = [
    "assert_equivariant",
    "assert_forces_are_neg_grad",
    "assert_permutation_equivariant",
    "assert_translation_invariant",
    "make_molecule_batch",
    "make_periodic_batch",
    "permuted",
    "random_crystals",
    "random_molecules",
    "random_reflection",
    "random_rotation",
    "transformed",
    "with_encoded_forces",
]

#: per-atom batch fields that follow the atoms under a permutation
NODE_FIELDS = (
    keys.Z,
    keys.POS,
    keys.FORCES,
    keys.FIXED,
    keys.TAGS,
    keys.ENCODED_FORCES,
    keys.NOISE_SIGMA,
)
#: per-atom vector fields (Cartesian, polar) that rotate with the structure
VECTOR_FIELDS = (keys.FORCES, keys.ENCODED_FORCES)
#: model outputs that are per-atom polar vectors
VECTOR_OUTPUTS = (keys.OUT_FORCES, keys.OUT_NOISE)


def random_rotation(
    dtype: torch.dtype = torch.float64, generator: torch.Generator | None = None
) -> Tensor:
    """A uniformly random proper rotation [3, 3] (orthogonal, det +1)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=generator))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)


def random_reflection(
    dtype: torch.dtype = torch.float64, generator: torch.Generator | None = None
) -> Tensor:
    """A random improper orthogonal matrix [3, 3] (det -1): a rotation times an inversion."""
    return -random_rotation(dtype, generator)


def random_molecules(
    n_structures: int = 2,
    n_atoms: tuple[int, int] = (5, 8),
    generator: torch.Generator | None = None,
    species: tuple[int, ...] = (1, 6, 7, 8),
    radius: float = 2.0,
    min_dist: float = 0.9,
) -> list[Structure]:
    """Random molecules: atoms uniform in a ball of ``radius`` Angstrom, pairwise >= ``min_dist``.

    Atom counts are drawn in ``[n_atoms[0], n_atoms[1]]``; energies are 0 eV and forces
    standard-normal (eV/Angstrom), so they can serve as ``encoded_forces``.
    """
    if n_structures < 1 or not 1 <= n_atoms[0] <= n_atoms[1]:
        raise ValueError(f"bad sizes: n_structures={n_structures!r}, n_atoms={n_atoms!r}")
    out = []
    for k in range(n_structures):
        n = int(torch.randint(n_atoms[0], n_atoms[1] + 1, (1,), generator=generator))
        pos = _points_in_ball(n, radius, min_dist, generator)
        z = torch.tensor(species)[torch.randint(len(species), (n,), generator=generator)]
        forces = torch.randn(n, 3, dtype=torch.float64, generator=generator)
        out.append(
            Structure(
                z=z.numpy().astype(np.int64),
                pos=pos.numpy(),
                energy=0.0,
                forces=forces.numpy(),
                id=f"random:{k}",
            )
        )
    return out


def random_crystals(
    n_structures: int = 1,
    n_atoms: tuple[int, int] = (4, 6),
    generator: torch.Generator | None = None,
    length: float = 4.0,
    species: tuple[int, ...] = (1, 6, 8, 29),
    min_dist: float = 0.9,
) -> list[Structure]:
    """Random periodic structures (pbc all True) in slightly skewed cells of edge ~``length`` A.

    Atoms are at least ``min_dist`` apart over the 27 nearest images; energies 0 eV, forces
    standard-normal (eV/Angstrom).
    """
    if n_structures < 1 or not 1 <= n_atoms[0] <= n_atoms[1] or length < 2 * min_dist:
        raise ValueError(f"bad sizes: {n_structures!r}, {n_atoms!r}, length={length!r}")
    out = []
    for k in range(n_structures):
        n = int(torch.randint(n_atoms[0], n_atoms[1] + 1, (1,), generator=generator))
        skew = 0.3 * (torch.rand(3, 3, dtype=torch.float64, generator=generator) - 0.5)
        cell = length * (torch.eye(3, dtype=torch.float64) + skew.triu(1))
        images = torch.cartesian_prod(*[torch.arange(-1.0, 2.0, dtype=torch.float64)] * 3) @ cell
        pos = _spread_points(n, min_dist, _uniform_in_cell(cell, generator), images)
        z = torch.tensor(species)[torch.randint(len(species), (n,), generator=generator)]
        forces = torch.randn(n, 3, dtype=torch.float64, generator=generator)
        out.append(
            Structure(
                z=z.numpy().astype(np.int64),
                pos=pos.numpy(),
                energy=0.0,
                forces=forces.numpy(),
                id=f"random-crystal:{k}",
                cell=cell.numpy(),
                pbc=np.ones(3, dtype=bool),
            )
        )
    return out


def _points_in_ball(
    n: int, radius: float, min_dist: float, generator: torch.Generator | None
) -> Tensor:
    """[n, 3] float64 points in a ball, pairwise at least ``min_dist`` apart (rejection)."""

    def draw() -> Tensor:
        while True:
            p = (torch.rand(3, dtype=torch.float64, generator=generator) * 2 - 1) * radius
            if p.norm() <= radius:
                return p

    return _spread_points(n, min_dist, draw, torch.zeros(1, 3, dtype=torch.float64))


def _uniform_in_cell(cell: Tensor, generator: torch.Generator | None) -> Callable[[], Tensor]:
    """A sampler of points [3] uniform in the cell spanned by the rows of ``cell``."""
    return lambda: torch.rand(3, dtype=torch.float64, generator=generator) @ cell


def _spread_points(n: int, min_dist: float, draw: Callable[[], Tensor], images: Tensor) -> Tensor:
    """[n, 3] points from ``draw()``, each >= ``min_dist`` from the others shifted by ``images``."""
    points: list[Tensor] = []
    for _ in range(10_000 * n):
        p = draw()
        if all(((p - q - images).norm(dim=-1) >= min_dist).all() for q in points):
            points.append(p)
            if len(points) == n:
                return torch.stack(points)
    raise ValueError(f"cannot place {n} atoms {min_dist} A apart")


def make_molecule_batch(
    n_structures: int = 2,
    n_atoms: tuple[int, int] = (5, 8),
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    **kwargs,
):
    """A PyG batch (bench.data.torch_data.collate) of ``random_molecules(...)``."""
    return collate(random_molecules(n_structures, n_atoms, generator, **kwargs), dtype)


def make_periodic_batch(
    n_structures: int = 1,
    n_atoms: tuple[int, int] = (4, 6),
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    **kwargs,
):
    """A PyG batch of ``random_crystals(...)`` (with ``cell`` [B, 3, 3] and ``pbc`` [B, 3])."""
    return collate(random_crystals(n_structures, n_atoms, generator, **kwargs), dtype)


def with_encoded_forces(batch, forces: Tensor):
    """A copy of ``batch`` with ``encoded_forces`` [N, 3] (eV/Angstrom) set to ``forces``."""
    out = batch.clone()
    out[keys.ENCODED_FORCES] = forces.to(batch.pos.dtype)
    return out


def transformed(batch, rotation: Tensor | None = None, translation: Tensor | None = None):
    """A copy of ``batch`` with ``pos -> pos @ R^T + t``; forces, encoded forces and the
    lattice vectors (cell rows) rotate with the structure.
    """
    out = batch.clone()
    if rotation is not None:
        rot = rotation.to(batch.pos.dtype)
        out[keys.POS] = out.pos @ rot.T
        for field in VECTOR_FIELDS:
            if field in out:
                out[field] = out[field] @ rot.T
        if keys.CELL in out:
            out[keys.CELL] = out[keys.CELL] @ rot.T
    if translation is not None:
        out[keys.POS] = out.pos + translation.to(batch.pos.dtype)
    return out


def permuted(batch, generator: torch.Generator | None = None):
    """A copy of ``batch`` with atoms shuffled within each structure, and the permutation.

    Returns ``(new_batch, perm)`` with ``new_batch.field[k] == batch.field[perm[k]]``.
    """
    counts = torch.bincount(batch.batch, minlength=int(batch.num_graphs)).tolist()
    perm, offset = [], 0
    for n in counts:
        perm.append(offset + torch.randperm(n, generator=generator))
        offset += n
    perm = torch.cat(perm)
    out = batch.clone()
    for field in NODE_FIELDS:
        if field in out:
            out[field] = out[field][perm]
    return out, perm


def skip_init():
    """Context manager: parameter shapes do not depend on initialisation, so skip it (builds
    200M-parameter models in seconds for counting)."""
    skip = lambda tensor, *args, **kwargs: tensor  # noqa: E731
    names = ("uniform_", "normal_", "kaiming_uniform_")
    return mock.patch.multiple(torch.nn.init, **{n: skip for n in names})


def relative_rotation_errors(model, batch, seed: int) -> dict[str, float]:
    """Per output, ``max |f(R x) - R f(x)| / max |f(x)|`` for a random rotation R drawn with
    ``seed`` (energies invariant, vectors rotated; the structure, its encoded forces and its
    cell rotate together)."""
    rot = random_rotation(generator=torch.Generator().manual_seed(seed))
    base = _outputs(model, batch)
    moved = _outputs(model, transformed(batch, rotation=rot))
    errors = {}
    for key, value in base.items():
        expected = value if key == keys.OUT_ENERGY else value @ rot.T.to(value.dtype)
        errors[key] = float((moved[key] - expected).abs().max() / value.abs().max())
    return errors


def with_some_encoded_forces(batch, every: int = 3):
    """A copy of ``batch`` encoding its force labels, zero on every ``every``-th atom."""
    forces = batch.forces.clone()
    forces[::every] = 0.0
    return with_encoded_forces(batch, forces)


def _outputs(model, batch) -> dict[str, Tensor]:
    return {k: v.detach() for k, v in model(batch).items()}


def _assert_close(actual: Tensor, expected: Tensor, what: str, atol: float, rtol: float) -> None:
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, msg=lambda m: f"{what}: {m}")


def assert_equivariant(model, batch, rotation: Tensor, atol: float = 1e-8, rtol: float = 1e-6):
    """Energy invariant, forces and noise rotate, under ``rotation`` (proper or improper).

    The structure, its encoded forces and its cell are rotated together.
    """
    base = _outputs(model, batch)
    moved = _outputs(model, transformed(batch, rotation=rotation))
    rot = rotation.to(batch.pos.dtype)
    _assert_close(moved[keys.OUT_ENERGY], base[keys.OUT_ENERGY], "energy", atol, rtol)
    for key in VECTOR_OUTPUTS:
        if key in base:
            _assert_close(moved[key], base[key] @ rot.T, key, atol, rtol)


def assert_translation_invariant(
    model, batch, translation: Tensor, atol: float = 1e-8, rtol: float = 1e-6
) -> None:
    """Every output (energy [B], forces and noise [N, 3]) unchanged by ``pos + translation``."""
    base = _outputs(model, batch)
    moved = _outputs(model, transformed(batch, translation=translation))
    for key, value in base.items():
        _assert_close(moved[key], value, key, atol, rtol)


def assert_permutation_equivariant(
    model, batch, generator: torch.Generator | None = None, atol: float = 1e-8, rtol: float = 1e-6
) -> None:
    """Energy unchanged and per-atom outputs permuted when atoms are shuffled per structure."""
    base = _outputs(model, batch)
    new_batch, perm = permuted(batch, generator)
    moved = _outputs(model, new_batch)
    _assert_close(moved[keys.OUT_ENERGY], base[keys.OUT_ENERGY], "energy", atol, rtol)
    for key in VECTOR_OUTPUTS:
        if key in base:
            _assert_close(moved[key], base[key][perm], key, atol, rtol)


def assert_forces_are_neg_grad(
    model,
    batch,
    n_directions: int = 3,
    eps: float = 1e-4,
    generator: torch.Generator | None = None,
    atol: float = 1e-7,
    rtol: float = 1e-5,
) -> None:
    """Forces equal minus the energy gradient, by central finite differences (use float64).

    For random unit-norm displacement fields d [N, 3], each structure's
    ``(E(pos + eps d) - E(pos - eps d)) / (2 eps)`` (eV/Angstrom) must equal
    ``-sum_i F_i . d_i`` over its atoms.
    """
    forces = _outputs(model, batch)[keys.OUT_FORCES]
    n_struct = int(batch.num_graphs)
    for k in range(n_directions):
        d = torch.randn(batch.pos.shape, dtype=batch.pos.dtype, generator=generator)
        d = d / d.norm()
        energies = []
        for sign in (1.0, -1.0):
            shifted = batch.clone()
            shifted[keys.POS] = batch.pos + sign * eps * d
            with torch.no_grad():
                energies.append(model(shifted)[keys.OUT_ENERGY])
        numeric = (energies[0] - energies[1]) / (2 * eps)
        analytic = -torch.zeros(n_struct, dtype=d.dtype).index_add(
            0, batch.batch, (forces * d).sum(-1)
        )
        _assert_close(analytic, numeric, f"-dE/dpos along direction {k}", atol, rtol)
