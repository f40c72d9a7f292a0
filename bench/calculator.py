"""An ASE calculator serving the final weights of a finished dens-bench run or of a model
file written by ``bench export`` (and :class:`TorchScriptCalculator` for a file written by
``bench export --torchscript``).

The model is built and loaded once (``bench.export.load_model``, the same loader
``bench eval`` uses) and every call forwards one structure exactly as evaluation does: the
Atoms become a Structure (fixed mask from ``FixAtoms``, OC20 tags rebuilt as the ase reader
does), then a one-structure batch with labels removed (bench.eval.inputs_only). No noise and
no force encoding are ever applied.

Fixed atoms: the calculator returns the model's raw forces on every atom; ASE applies the
Atoms' constraints in ``Atoms.get_forces()`` (fixed rows zeroed) and in ``set_positions``, so
optimisers never move fixed atoms and their ``fmax`` is over free atoms only.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from bench.data import keys
from bench.data.ase_files import fixed_mask, oc20_tags
from bench.data.structure import Structure
from bench.data.torch_data import collate
from bench.eval import inputs_only


class DensBenchCalculator(Calculator):
    """Energy (eV), forces (eV/Angstrom) and, where the model allows, stress (eV/Angstrom^3)
    of a trained model.

    Args:
        model: a finished run directory (``checkpoints/model.pt``, ``stats.json``,
            ``config.yaml``) or a file written by ``bench export`` (bench.export).
        device: "cpu" or "cuda".

    Attributes:
        model: the evaluation model (EMA weights when the run used EMA), in eval mode.
        config: the run's RunConfig.
        conservative: True when forces are the exact negative gradient of the energy
            (``force_mode: gradient``); a direct-force model is not, and warns on loading: its
            forces do not conserve energy in molecular dynamics (an NVE run heats up).
        n_calls: model evaluations so far (ASE caches repeated calls on unchanged Atoms).

    Stress (ASE's Voigt order xx, yy, zz, yz, xz, xy): the strain derivative of the energy
    divided by the cell volume, for conservative models on cells periodic in all three
    directions; anything else raises PropertyNotImplementedError saying why.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, model: str | Path, device: str = "cpu", **kwargs) -> None:
        from bench.export import load_model

        super().__init__(**kwargs)
        self.source = Path(model)
        self.model, self.config = load_model(self.source, device)
        self.device = torch.device(device)
        self.dtype = getattr(torch, self.config.dtype)
        self.conservative = self.model.force_mode == "gradient"
        self.n_calls = 0
        if not self.conservative:
            warnings.warn(
                f"{self.source}: {self.config.model.backbone} predicts forces "
                "directly (force_mode: direct); they are not the gradient of the "
                "energy, so molecular dynamics with them does not conserve energy "
                "(NVE heats up); use a gradient-force model for MD",
                stacklevel=2,
            )

    def calculate(
        self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes
    ) -> None:
        """Fill ``self.results`` with energy, free_energy (= energy), forces [n, 3] and, when
        asked for, stress [6]."""
        super().calculate(atoms, properties, system_changes)
        batch = inputs_only(collate([atoms_to_inputs(self.atoms)], self.dtype).to(self.device))
        if "stress" in properties:
            self._check_stress()
            self.results = self._with_stress(batch)
        else:
            with torch.no_grad():
                out = self.model(batch)
            self.results = _results(out)
        self.n_calls += 1

    def _check_stress(self) -> None:
        if not self.conservative:
            raise PropertyNotImplementedError(
                "stress is not implemented for direct-force models (no energy-consistent "
                "virial); use a gradient-force backbone preset"
            )
        if not all(self.atoms.pbc):
            raise PropertyNotImplementedError("stress needs a cell periodic in x, y and z")

    def _with_stress(self, batch) -> dict:
        strain = torch.zeros(1, 3, 3, dtype=self.dtype, device=self.device, requires_grad=True)
        batch[keys.STRAIN] = strain
        with torch.enable_grad():
            out = self.model(batch)
            (d_strain,) = torch.autograd.grad(out[keys.OUT_ENERGY].sum(), strain)
        sigma = d_strain[0].double().cpu().numpy() / self.atoms.get_volume()
        sigma = 0.5 * (sigma + sigma.T)
        return _results(out) | {"stress": full_3x3_to_voigt_6_stress(sigma)}


class TorchScriptCalculator(Calculator):
    """Energy (eV) and forces (eV/Angstrom) of a ``bench export --torchscript`` file
    (bench.torchscript), with no run folder and no ``backbones`` import; gradient forces only,
    so ``conservative`` is True. No stress: the traced model takes no strain."""

    implemented_properties = ["energy", "free_energy", "forces"]
    conservative = True

    def __init__(self, model: str | Path, **kwargs) -> None:
        from bench.torchscript import load_torchscript

        super().__init__(**kwargs)
        self.model = load_torchscript(model)

    def calculate(
        self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes
    ) -> None:
        """Fill ``self.results`` with energy, free_energy (= energy) and forces [n, 3]."""
        super().calculate(atoms, properties, system_changes)
        cell = pbc = None
        if any(self.atoms.pbc):
            cell = torch.tensor(self.atoms.cell.array, dtype=torch.float64)[None]
            pbc = torch.tensor(self.atoms.pbc, dtype=torch.bool)[None]
        z = torch.tensor(self.atoms.numbers, dtype=torch.long)
        energy, forces = self.model(z, torch.tensor(self.atoms.positions), None, cell, pbc)
        self.results = _results({keys.OUT_ENERGY: energy, keys.OUT_FORCES: forces})


def _results(out: dict) -> dict:
    energy = float(out[keys.OUT_ENERGY][0].detach())
    return {
        "energy": energy,
        "free_energy": energy,
        "forces": out[keys.OUT_FORCES].detach().cpu().double().numpy(),
    }


def atoms_to_inputs(atoms: Atoms, structure_id: str = "atoms") -> Structure:
    """The model inputs of ``atoms`` as a Structure with zero labels (energy 0, forces 0).

    Periodic when any ``atoms.pbc``; ``fixed`` from FixAtoms; tags as stored, or rebuilt from
    the fixed mask when all zero (bench.data.ase_files.oc20_tags).
    """
    z = np.asarray(atoms.numbers, dtype=np.int64)
    periodic = bool(np.any(atoms.pbc))
    fixed = fixed_mask(atoms)
    return Structure(
        z=z,
        pos=np.asarray(atoms.positions, dtype=np.float64),
        energy=0.0,
        forces=np.zeros((len(z), 3)),
        id=structure_id,
        cell=np.asarray(atoms.cell.array, dtype=np.float64) if periodic else None,
        pbc=np.asarray(atoms.pbc, dtype=bool) if periodic else None,
        fixed=fixed,
        tags=oc20_tags(z, fixed, np.asarray(atoms.get_tags(), dtype=np.int64)),
    )
