"""``bench eval --run R --path FILE``: a trained model on any readable file of labelled
structures, its metrics, and the predictions written out.

Readable files: whatever bench.data.ase_files reads (extxyz, .xyz, ASE .traj, ASE db; labels
from the calculator, eV and eV/Angstrom) and npz archives with rMD17 keys
(``nuclear_charges, coords, energies, forces``; kcal/mol by the dataset's definition) or
sGDML keys (``z, R, E, F`` with ``e_unit`` "kcal/mol" or "eV" and ``r_unit`` "Ang"; a file
without ``e_unit`` is refused rather than guessed).

``predictions.npz`` (what ``bench report --plot parity`` reads):
    energy_pred, energy_true  float64 [B], eV
    forces_pred, forces_true  float64 [N, 3], eV/Angstrom
    free                      bool [N] (False for fixed atoms)
    structure                 int64 [N], index of each atom's structure
    n_atoms                   int64 [B]
    z                         int64 [N]
    source                    str, what was evaluated (a file path or "<split> split")
The extxyz output (``--output``) holds every structure with ``pred_energy`` (info, eV),
``pred_forces`` (arrays, eV/Angstrom) and the labels as ASE writes them (``energy``,
``forces``), so the file reads back as a labelled data set.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.data.ase_files import SUFFIXES, read_ase_file
from bench.data.structure import Structure
from bench.errors import DataError
from bench.io import write_bytes_atomic, write_text_atomic
from bench.records import PREDICTIONS_FILE

if TYPE_CHECKING:
    from bench.eval import Predictions

_RMD17_KEYS = ("nuclear_charges", "coords", "energies", "forces")
_SGDML_KEYS = ("z", "R", "E", "F")
#: sGDML ``e_unit`` -> eV per unit (forces: the same per Angstrom)
_ENERGY_UNITS = {"kcal/mol": None, "ev": 1.0}


def evaluate_file(
    source: str | Path,
    path: str | Path,
    output: str | Path | None = None,
    device: str = "cpu",
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Metrics of the model ``source`` (run directory or ``bench export`` file) on ``path``.

    Returns ``{"run_id", "path", "metrics": bench.metrics.prediction_metrics(...),
    "written": [paths]}``; predictions go to ``<run dir>/predictions.npz`` when ``source`` is
    a run directory, and to ``output`` (extxyz) when given.
    """
    from bench.eval import predict
    from bench.export import load_model
    from bench.metrics import prediction_metrics
    from bench.train.setup import to_data_list

    path = Path(path)
    structures = read_structures(path)
    model, cfg = load_model(source, device)
    data = to_data_list(structures, cfg.dtype)
    p = predict(
        model,
        data,
        batch_size or cfg.train.eval_batch_size,
        torch.device(device),
        f"eval {path.name}",
    )
    n_atoms = torch.as_tensor([s.n_atoms for s in structures])
    metrics = prediction_metrics(
        p.energy_pred, p.energy_true, p.forces_pred, p.forces_true, p.free, n_atoms
    )
    written = []
    if output is not None:
        written.append(write_extxyz(output, structures, p))
    if Path(source).is_dir():
        written.append(write_predictions(Path(source) / PREDICTIONS_FILE, p, structures, str(path)))
    return {
        "run_id": cfg.run_id,
        "path": str(path),
        "metrics": metrics,
        "written": [str(w) for w in written],
    }


def read_structures(path: Path) -> list[Structure]:
    """Every labelled structure of one file (module docstring); DataError otherwise."""
    if path.is_dir():
        raise DataError(path, None, "give one file, not a folder")
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix in SUFFIXES:
        if not path.is_file():
            raise DataError(path, None, "file not found")
        return read_ase_file(path)
    raise DataError(path, None, f"unknown file type; readable: {', '.join(SUFFIXES)}, .npz")


def _read_npz(path: Path) -> list[Structure]:
    from bench.data.frames import trajectory_structures
    from bench.data.npz import load_npz
    from bench.data.units import KCAL_PER_MOL_TO_EV

    arrays = load_npz(path, (), (*_RMD17_KEYS, *_SGDML_KEYS, "e_unit", "r_unit"))
    ident = lambda i: f"{path.name}:{i}"  # noqa: E731
    if set(_RMD17_KEYS) <= set(arrays):
        return trajectory_structures(path, _RMD17_KEYS, arrays, ident)
    missing = [k for k in _SGDML_KEYS if k not in arrays]
    if missing:
        raise DataError(
            path,
            missing[0],
            f"missing: neither rMD17 keys {list(_RMD17_KEYS)} nor sGDML keys {list(_SGDML_KEYS)}",
        )
    if "e_unit" not in arrays:
        raise DataError(path, "e_unit", "missing: the energy unit cannot be guessed")
    unit = str(arrays["e_unit"]).strip().lower()
    if unit not in _ENERGY_UNITS:
        raise DataError(path, "e_unit", f"{unit!r}; known: kcal/mol, eV")
    if str(arrays.get("r_unit", "Ang")).strip().lower() not in ("ang", "angstrom"):
        raise DataError(path, "r_unit", f"{arrays['r_unit']!r}; only Ang is read")
    # trajectory_structures converts from kcal/mol: hand it the labels in kcal/mol
    scale = (_ENERGY_UNITS[unit] or KCAL_PER_MOL_TO_EV) / KCAL_PER_MOL_TO_EV
    arrays |= {k: np.asarray(arrays[k], dtype=np.float64) * scale for k in ("E", "F")}
    return trajectory_structures(path, _SGDML_KEYS, arrays, ident)


def write_predictions(path: Path, p: Predictions, structures: list[Structure], source: str) -> Path:
    """``predictions.npz`` (module docstring) of the predictions ``p`` (bench.eval.predict)."""
    arrays = {
        k: getattr(p, k).double().numpy()
        for k in ("energy_pred", "energy_true", "forces_pred", "forces_true")
    }
    arrays |= {
        "free": p.free.numpy(),
        "structure": p.structure.numpy(),
        "n_atoms": np.array([s.n_atoms for s in structures], dtype=np.int64),
        "z": np.concatenate([s.z for s in structures]).astype(np.int64),
        "source": np.array(source),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_bytes_atomic(path, buffer.getvalue())


def write_extxyz(path: str | Path, structures: list[Structure], p: Predictions) -> Path:
    """Every structure with ``pred_energy``/``pred_forces`` and ``ref_energy``/``ref_forces``."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    frames, offset = [], 0
    for i, s in enumerate(structures):
        atoms = Atoms(numbers=s.z, positions=s.pos, cell=s.cell, pbc=s.pbc if s.periodic else False)
        atoms.info |= {"pred_energy": float(p.energy_pred[i]), "id": s.id}
        rows = slice(offset, offset + s.n_atoms)
        atoms.arrays["pred_forces"] = p.forces_pred[rows].double().numpy()
        atoms.calc = SinglePointCalculator(
            atoms, energy=s.energy, forces=np.asarray(s.forces, dtype=np.float64)
        )
        frames.append(atoms)
        offset += s.n_atoms
    text = io.StringIO()
    write(text, frames, format="extxyz")
    return write_text_atomic(path, text.getvalue())
