"""IS2RE by relaxation: relax initial structures with a trained run's model and score the
predicted relaxed energies against DFT.

Inputs (``structures``): an ASE-readable file or a folder of them (bench.data.ase_files). Each
FILE is one relaxation: its first frame is the initial structure; when it has two or more
frames and the last one carries an energy, that energy is the DFT relaxed energy (the OC20
relaxation trajectories end at the DFT relaxed structure) and the first frame's energy the DFT
initial energy. ``split="test"`` (or "train"/"val") keeps only the trajectories the run put in
that split (the run must use the ``ase`` reader with ``split_by: trajectory``; the split is
recomputed from the run's config with bench.data.trajectory_split).

Each structure is relaxed by ASE (``lbfgs`` | ``fire`` | ``bfgs``) on the model's forces with the
Atoms' ``FixAtoms`` constraint respected, until max |F| over free atoms <= ``fmax`` (eV/A) or
``steps`` optimiser steps. Outputs in ``output``: ``relaxed.extxyz`` (relaxed structures with
the predicted energy and forces), ``trajectories/<name>.traj`` (every optimiser step) and
``relax.json`` (this module's report: per-structure rows and the summary below). With
``record_split`` the summary also goes into the run record as ``is2re_*`` metrics of that
split, where ``bench report`` reads the IS2RE columns (:func:`record_is2re`).

Summary (units in the names): ``fraction_converged``; ``is2re_energy_mae_mev`` =
mean |E_pred(relaxed) - E_DFT(relaxed)| and ``is2re_ewt`` = fraction with that error
< 0.02 eV (OC20 IS2RE EwT), over structures with a DFT relaxed energy; and
``relaxation_energy_mae_mev`` = mean |(E_pred(relaxed) - E_pred(initial)) -
(E_DFT(relaxed) - E_DFT(initial))|, which does not depend on per-element energy references.
The energies are of the kind the run was trained on (``energy_kind`` in the report). The ASE
files hold total DFT energies, so a run trained on referenced (adsorption) energies gets no
DFT reference and no IS2RE metric rather than a meaningless one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize import BFGS, FIRE, LBFGS

from bench.errors import ConfigError, DataError
from bench.io import write_json_atomic
from bench.progress import ProgressDisplay

OPTIMIZERS = {"lbfgs": LBFGS, "fire": FIRE, "bfgs": BFGS}
#: OC20 IS2RE "energy within threshold": |E_pred - E_DFT| < 0.02 eV
EWT_EV = 0.02
REPORT_FILE = "relax.json"
RELAXED_FILE = "relaxed.extxyz"
TRAJ_DIR = "trajectories"
#: run-record metric name -> summary key (:func:`record_is2re`)
RECORD_KEYS = {
    "is2re_energy_mae_mev": "is2re_energy_mae_mev",
    "is2re_ewt": "is2re_ewt",
    "is2re_fraction_converged": "fraction_converged",
    "is2re_relaxation_energy_mae_mev": "relaxation_energy_mae_mev",
    "is2re_n_structures": "n_structures",
}


@dataclass
class RelaxTarget:
    """One structure to relax.

    Attributes:
        name: the source file name (a trajectory name).
        initial: the initial structure (first frame), constraints kept, no calculator.
        energy_initial_dft, energy_relaxed_dft: eV, or None when the file does not hold them.
        subsplit: OC20/OC22 sub-split named by a folder of the file's path (``val_id/``, ...),
            or None (bench.data.oc20_subsplits).
    """

    name: str
    initial: Atoms
    energy_initial_dft: float | None
    energy_relaxed_dft: float | None
    subsplit: str | None = None


def check_options(optimizer: str, fmax: float, steps: int) -> None:
    """ConfigError for an unknown optimizer, fmax <= 0 or steps < 1."""
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"--optimizer must be one of {tuple(OPTIMIZERS)}, got {optimizer!r}")
    if not fmax > 0:
        raise ConfigError(f"--fmax must be > 0 eV/Angstrom, got {fmax!r}")
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps!r}")


def relax_run(
    run_dir: str | Path,
    structures: str | Path | None = None,
    optimizer: str = "lbfgs",
    fmax: float = 0.05,
    steps: int = 200,
    output: str | Path | None = None,
    split: str | None = None,
    device: str = "cpu",
    record_split: str | None = None,
) -> dict[str, Any]:
    """Relax every selected structure with the run's model; write and return the report.

    Args:
        run_dir: a finished run directory.
        structures: file or folder of ASE-readable files; None: the run's ``data.path``.
        optimizer, fmax (eV/Angstrom), steps: the ASE optimiser and its stopping rule.
        output: where the outputs go (default ``<run_dir>/relax``).
        split: keep only the run's "train" | "val" | "test" trajectories (None: all files).
        device: "cpu" or "cuda".
        record_split: add the IS2RE metrics to the run record under this split name
            (:func:`record_is2re`); None: the record is not touched.
    """
    check_options(optimizer, fmax, steps)
    from bench.calculator import DensBenchCalculator

    calc = DensBenchCalculator(run_dir, device)
    cfg = calc.config
    if structures is None and cfg.data.path is None:
        raise ConfigError(f"{run_dir}: the run has no data.path; pass --structures PATH")
    path = Path(structures if structures is not None else cfg.data.path)
    names = None if split is None else run_trajectory_names(cfg, split)
    stats = _run_stats(Path(run_dir))
    targets = read_targets(path, names)
    if stats.get("energy_kind") == "referenced":  # ASE files hold total energies: no reference
        targets = [replace(t, energy_initial_dft=None, energy_relaxed_dft=None) for t in targets]
    output = Path(output) if output is not None else Path(run_dir) / "relax"
    (output / TRAJ_DIR).mkdir(parents=True, exist_ok=True)
    seen = _elements(stats.get("atom_ref"))
    relaxed, rows = [], []
    with ProgressDisplay("relax", len(targets)) as bar:
        for target in targets:
            name = target.name
            bar.update(0, f"{name}: starting")
            traj = output / TRAJ_DIR / f"{Path(name).stem}.traj"
            atoms, row = relax_one(target, calc, optimizer, fmax, steps, traj, _on_step(bar, name))
            if seen is not None:
                row["elements_not_in_train"] = sorted(set(atoms.get_chemical_symbols()) - seen)
            relaxed.append(atoms)
            rows.append(row)
            state = "converged" if row["converged"] else "not converged"
            bar.update(1, f"{name}: {state} after {row['steps']} steps")
            bar.note(
                f"{name}: {state}, {row['steps']} steps, E {row['energy_relaxed_pred_ev']:.4f} eV"
            )
    report = {
        "run": str(run_dir),
        "run_id": cfg.run_id,
        "structures": str(path),
        "split": split,
        "optimizer": optimizer,
        "fmax_ev_per_a": fmax,
        "steps": steps,
        "device": device,
        "energy_kind": stats.get("energy_kind"),
        "output": str(output),
        "summary": summarize(rows),
        "results": rows,
    }
    if record_split is not None:
        report["recorded"] = record_is2re(Path(run_dir), record_split, rows)
    write_outputs(output, relaxed, report)
    return report


def record_is2re(run_dir: Path, split: str, rows: list[dict[str, Any]]) -> dict[str, dict]:
    """Add the IS2RE summary of ``rows`` to the run record: ``metrics[split]`` (and
    ``metrics[split/<sub-split>]`` per known sub-split), or only ``metrics[split/<sub>]`` when
    every row is of the same known sub-split (OC22 relaxes ``test_id`` and ``test_ood``
    separately). Keys: ``is2re_energy_mae_mev``, ``is2re_ewt``, ``is2re_fraction_converged``,
    ``is2re_relaxation_energy_mae_mev``, ``is2re_n_structures``; None values are left out.
    Returns ``{record split: added metrics}``.
    """
    from bench.records import read_record

    subs = {r["subsplit"] for r in rows}
    if len(subs) == 1 and None not in subs:
        groups = {f"{split}/{subs.pop()}": rows}
    else:
        groups = {split: rows} | {
            f"{split}/{sub}": [r for r in rows if r["subsplit"] == sub]
            for sub in sorted(subs - {None})
        }
    record = read_record(run_dir)
    added = {}
    for key, group in groups.items():
        summary = summarize(group)
        added[key] = {
            name: summary[src] for name, src in RECORD_KEYS.items() if summary[src] is not None
        }
        record.metrics.setdefault(key, {}).update(added[key])
    record.write(run_dir)
    return added


def run_trajectory_names(cfg, split: str) -> set[str]:
    """Names of the trajectories (files) a run put in ``split``, recomputed from its config.

    Raises:
        ConfigError: ``split`` unknown, or the run does not split the ase reader's files by
            trajectory.
    """
    from bench.data.ase_files import ase_files
    from bench.data.trajectory_split import SPLIT_NAMES, split_names

    if split not in SPLIT_NAMES:
        raise ConfigError(f"--split must be one of {SPLIT_NAMES}, got {split!r}")
    data = cfg.data
    if data.name != "ase" or data.split_by != "trajectory":
        raise ConfigError(
            f"--split needs a run trained with --dataset ase and data.split_by "
            f"trajectory; run {cfg.run_id!r} has dataset {data.name!r}, "
            f"split_by {data.split_by!r}"
        )
    files = ase_files(Path(data.path))
    parts = split_names(
        [f.name for f in files], data.n_train, data.n_val, data.split_seed, data.path
    )
    return set(parts[SPLIT_NAMES.index(split)])


def read_targets(path: Path, names: set[str] | None = None) -> list[RelaxTarget]:
    """One RelaxTarget per ASE-readable file at ``path`` (only ``names`` when given)."""
    from ase.io import read

    from bench.data.ase_files import ase_files
    from bench.data.oc20_subsplits import subsplit_of_path

    files = [f for f in ase_files(path) if names is None or f.name in names]
    if not files:
        raise DataError(path, None, f"none of the files is in the selection {sorted(names or [])}")
    targets = []
    for f in files:
        try:
            first, tail = read(f, index=0), read(f, index=slice(-2, None))
        except Exception as exc:  # ASE raises many types for malformed files
            raise DataError(f, None, f"ASE cannot read it ({type(exc).__name__}: {exc})") from exc
        trajectory = len(tail) >= 2
        targets.append(
            RelaxTarget(
                name=f.name,
                initial=_bare(first),
                energy_initial_dft=_energy(first) if trajectory else None,
                energy_relaxed_dft=_energy(tail[-1]) if trajectory else None,
                subsplit=subsplit_of_path(f.absolute()),
            )
        )
    return targets


def relax_one(
    target: RelaxTarget,
    calc,
    optimizer: str,
    fmax: float,
    steps: int,
    trajectory: Path | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[Atoms, dict[str, Any]]:
    """Relax ``target.initial`` with ``calc``; returns the relaxed Atoms (with a single-point
    calculator holding the predicted energy and raw forces) and its report row."""
    atoms = target.initial.copy()
    atoms.calc = calc
    start = time.perf_counter()
    energy_initial = float(atoms.get_potential_energy())
    with _open_trajectory(trajectory) as traj:
        opt = OPTIMIZERS[optimizer](atoms, logfile=None, trajectory=traj)
        if on_step is not None:
            opt.attach(lambda: on_step(opt.nsteps, _fmax(atoms)))
        converged = bool(opt.run(fmax=fmax, steps=steps))
    energy = float(atoms.get_potential_energy())
    row = {
        "name": target.name,
        "subsplit": target.subsplit,
        "n_atoms": len(atoms),
        "n_free": int(len(atoms) - _n_fixed(atoms)),
        "converged": converged,
        "steps": int(opt.nsteps),
        "fmax_final_ev_per_a": _fmax(atoms),
        "energy_initial_pred_ev": energy_initial,
        "energy_relaxed_pred_ev": energy,
        "energy_initial_dft_ev": target.energy_initial_dft,
        "energy_relaxed_dft_ev": target.energy_relaxed_dft,
        "wall_time_s": time.perf_counter() - start,
    }
    relaxed = atoms.copy()
    relaxed.calc = SinglePointCalculator(
        relaxed, energy=energy, forces=atoms.get_forces(apply_constraint=False)
    )
    relaxed.info.update(name=target.name, converged=converged, steps=row["steps"])
    return relaxed, row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of report rows (module docstring); metrics without data are None."""

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    ref = [r for r in rows if r["energy_relaxed_dft_ev"] is not None]
    err = [abs(r["energy_relaxed_pred_ev"] - r["energy_relaxed_dft_ev"]) for r in ref]
    d_err = [
        abs(
            (r["energy_relaxed_pred_ev"] - r["energy_initial_pred_ev"])
            - (r["energy_relaxed_dft_ev"] - r["energy_initial_dft_ev"])
        )
        for r in ref
    ]
    mae, d_mae = mean(err), mean(d_err)
    return {
        "n_structures": len(rows),
        "n_with_reference": len(ref),
        "n_converged": sum(r["converged"] for r in rows),
        "fraction_converged": mean([float(r["converged"]) for r in rows]),
        "mean_steps": mean([r["steps"] for r in rows]),
        "is2re_energy_mae_mev": None if mae is None else 1000.0 * mae,
        "is2re_ewt": mean([float(e < EWT_EV) for e in err]),
        "relaxation_energy_mae_mev": None if d_mae is None else 1000.0 * d_mae,
    }


def write_outputs(output: Path, relaxed: list[Atoms], report: dict[str, Any]) -> Path:
    """``relaxed.extxyz`` and ``relax.json`` in ``output``; returns the report path."""
    from ase.io import write

    output.mkdir(parents=True, exist_ok=True)
    tmp = output / f".{RELAXED_FILE}.tmp"
    write(tmp, relaxed, format="extxyz")
    tmp.replace(output / RELAXED_FILE)
    return write_json_atomic(output / REPORT_FILE, report)


def read_report(output: Path) -> dict[str, Any]:
    """The ``relax.json`` report written by :func:`write_outputs`."""
    return json.loads((Path(output) / REPORT_FILE).read_text())


def _open_trajectory(path: Path | None):
    """An ASE Trajectory writer for ``path`` (closed on exit), or a null context for None."""
    from ase.io.trajectory import Trajectory

    return nullcontext() if path is None else Trajectory(str(path), "w")


def _energy(atoms: Atoms) -> float | None:
    try:
        return float(atoms.get_potential_energy())
    except Exception:  # no calculator, or no energy stored
        return None


def _bare(atoms: Atoms) -> Atoms:
    out = atoms.copy()
    out.calc = None
    return out


def _n_fixed(atoms: Atoms) -> int:
    from bench.data.ase_files import fixed_mask

    mask = fixed_mask(atoms)
    return 0 if mask is None else int(mask.sum())


def _fmax(atoms: Atoms) -> float:
    """max |F| over atoms with constraints applied (free atoms), eV/Angstrom."""
    forces = atoms.get_forces()
    return float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0


def _run_stats(run_dir: Path) -> dict[str, Any]:
    """The run's ``stats.json`` (normalisation, energy kind, per-element references)."""
    from bench.train.setup import STATS_FILE

    path = run_dir / STATS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _elements(atom_ref: dict | None) -> set[str] | None:
    """Element symbols with a per-element reference (None without references)."""
    from ase.data import chemical_symbols

    return None if not atom_ref else {chemical_symbols[int(z)] for z in atom_ref}


def _on_step(bar: ProgressDisplay, name: str) -> Callable[[int, float], None]:
    """The optimiser callback that shows structure ``name``'s step and fmax (eV/A) on ``bar``."""
    return lambda nsteps, fmax: bar.update(0, f"{name}: step {nsteps}, fmax {fmax:.3f} eV/A")
