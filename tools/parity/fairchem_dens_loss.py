"""DeNS loss parity (OC20): the released trainer's loss on a fixed batch, as a test fixture.

On the first two frames of the shipped OC20 trajectory (a batch of 2, FixAtoms respected),
with fixed noise (sigma 0.1 A, fixed_noise_std: True, as the released OC20 S2EF-2M config),
a fixed corruption mask (corrupt_ratio 0.5 over all atoms, as its add_gaussian_noise_to_position)
and fixed predictions, this evaluates the reference loss of a denoising batch exactly as
atomicarchitects/DeNS trainers/denoising_forces_trainer.py (e98b7470) _compute_loss does:
energy ``2 * mae`` of normalised energies plus its
``compute_atomwise_denoising_pos_and_force_hybrid_loss`` (force coefficient 100, denoising
coefficient 10, free atoms only). The hybrid function is taken from the reference file itself
(parsed out of it; the rest of the trainer needs a full fairchem training stack). Writes
tests/data/parity/dens_oc20_loss.npz (+ .json); tests/unit/methods/test_dens_parity.py
checks bench/methods/dens.py (``atom_mean: pooled``) against it to 1e-12.

    PYTHONPATH=$PWD python3 tools/parity/fairchem_dens_loss.py
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fairchem_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "parity" / "dens_oc20_loss"
TRAINER = fairchem_env.DENS_ROOT / "trainers" / "denoising_forces_trainer.py"
FRAMES = ROOT / "tests" / "data" / "oc20_relax" / "random1000156.traj"
#: released OC20 S2EF-2M config values
STD, CORRUPT_RATIO, ENERGY_COEF, FORCE_COEF, DENS_COEF = 0.1, 0.5, 2.0, 100.0, 10.0
ENERGY_MEAN, ENERGY_STD, FORCE_STD = -0.7554450631141663, 2.887317180633545, 2.887317180633545


def hybrid_loss():
    """The reference's compute_atomwise_denoising_pos_and_force_hybrid_loss, compiled from
    its source file alone."""
    tree = ast.parse(TRAINER.read_text())
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef)
        and n.name == "compute_atomwise_denoising_pos_and_force_hybrid_loss"
    )
    namespace = {"torch": torch}
    exec(compile(ast.Module([node], type_ignores=[]), str(TRAINER), "exec"), namespace)
    return namespace[node.name]


def main() -> None:
    from ase.io import read

    torch.set_default_dtype(torch.float64)
    frames = read(FRAMES, ":2")
    gen = torch.Generator().manual_seed(7)
    n = sum(len(a) for a in frames)
    fixed = torch.tensor(np.concatenate([_fixed(a) for a in frames]))
    energy = torch.tensor([a.get_potential_energy() for a in frames])
    forces = torch.tensor(np.concatenate([a.get_forces(apply_constraint=False) for a in frames]))
    noise_mask = torch.rand(n, generator=gen) < CORRUPT_RATIO  # over all atoms, as released
    noise_vec = torch.randn(n, 3, generator=gen) * STD * noise_mask[:, None]
    pred_energy = torch.randn(2, generator=gen)  # normalised units
    pred_forces = torch.randn(n, 3, generator=gen)
    pred_noise = torch.randn(n, 3, generator=gen)
    # reference: combined output and target, normalised
    target = torch.where(noise_mask[:, None], noise_vec / STD, forces / FORCE_STD)
    pred = torch.where(noise_mask[:, None], pred_noise, pred_forces)
    hybrid = hybrid_loss()(
        pred, target, noise_mask.view(-1, 1), FORCE_COEF, DENS_COEF, mask=fixed == 0
    )
    energy_term = ENERGY_COEF * torch.mean(
        torch.abs(pred_energy - (energy - ENERGY_MEAN) / ENERGY_STD)
    )
    arrays = {
        "fixed": fixed.numpy(),
        "energy": energy.numpy(),
        "forces": forces.numpy(),
        "noise_mask": noise_mask.numpy(),
        "noise_vec": noise_vec.numpy(),
        "pred_energy": pred_energy.numpy(),
        "pred_forces": pred_forces.numpy(),
        "pred_noise": pred_noise.numpy(),
        "loss_energy": energy_term.numpy(),
        "loss_forces_and_noise": hybrid.numpy(),
        "natoms": np.array([len(a) for a in frames]),
    }
    np.savez_compressed(OUT.with_suffix(".npz"), **arrays)
    meta = {
        "reference": "atomicarchitects/DeNS e98b7470 trainers/denoising_forces_trainer.py",
        "config": {
            "std": STD,
            "fixed_noise_std": True,
            "corrupt_ratio": CORRUPT_RATIO,
            "energy_coefficient": ENERGY_COEF,
            "force_coefficient": FORCE_COEF,
            "denoising_pos_coefficient": DENS_COEF,
            "energy_mean": ENERGY_MEAN,
            "energy_std": ENERGY_STD,
            "force_std": FORCE_STD,
        },
        "batch": "tests/data/oc20_relax/random1000156.traj frames 0-1 (torch seed 7 for "
        "masks, noise and predictions; predictions in normalised units)",
        "loss_energy": float(energy_term),
        "loss_forces_and_noise": float(hybrid),
        "command": "PYTHONPATH=$PWD python3 tools/parity/fairchem_dens_loss.py",
    }
    OUT.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(meta))


def _fixed(atoms) -> np.ndarray:
    from bench.data.ase_files import fixed_mask

    return fixed_mask(atoms)


if __name__ == "__main__":
    main()
