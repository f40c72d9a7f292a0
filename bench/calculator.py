"""An ASE calculator serving the final weights of a finished dens-bench run.

The model is built and loaded once (``bench.train.setup.load_run_model``, the same loader
``bench eval`` uses) and every call forwards one structure exactly as evaluation does: the
Atoms become a Structure (fixed mask from ``FixAtoms``, OC20 tags rebuilt as the ase reader
does), then a one-structure batch with labels removed (bench.eval.inputs_only). No noise and
no force encoding are ever applied.

Fixed atoms: the calculator returns the model's raw forces on every atom; ASE applies the
Atoms' constraints in ``Atoms.get_forces()`` (fixed rows zeroed) and in ``set_positions``, so
optimisers never move fixed atoms and their ``fmax`` is over free atoms only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from bench.data.ase_files import fixed_mask, oc20_tags
from bench.data.structure import Structure
from bench.data.torch_data import collate
from bench.eval import inputs_only


class DensBenchCalculator(Calculator):
    """Energy (eV) and forces (eV/Angstrom) of a trained run's model.

    Args:
        run_dir: a finished run directory (``checkpoints/model.pt``, ``stats.json``,
            ``config.yaml``).
        device: "cpu" or "cuda".

    Attributes:
        model: the evaluation model (EMA weights when the run used EMA), in eval mode.
        config: the run's RunConfig.
        n_calls: model evaluations so far (ASE caches repeated calls on unchanged Atoms).
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, run_dir: str | Path, device: str = "cpu", **kwargs) -> None:
        from bench.train.setup import load_run_model

        super().__init__(**kwargs)
        self.run_dir = Path(run_dir)
        self.model, self.config = load_run_model(self.run_dir, device)
        self.model.eval()
        self.device = torch.device(device)
        self.dtype = getattr(torch, self.config.dtype)
        self.n_calls = 0

    def calculate(self, atoms: Atoms | None = None, properties=("energy",),
                  system_changes=all_changes) -> None:
        """Fill ``self.results`` with energy, free_energy (= energy) and forces [n, 3]."""
        super().calculate(atoms, properties, system_changes)
        batch = collate([atoms_to_inputs(self.atoms)], self.dtype).to(self.device)
        with torch.no_grad():
            out = self.model(inputs_only(batch))
        energy = float(out["energy"][0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": out["forces"].detach().cpu().double().numpy(),
        }
        self.n_calls += 1


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
