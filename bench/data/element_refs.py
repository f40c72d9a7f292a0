"""Per-element energy references of a run: decided from ``data.element_refs`` and the train split.

A total energy grows with the number of atoms of each element; normalising raw totals of
several compositions (ethanol + methanol: a 454 eV spread) gives a force scale and energy
errors set by that spread. References E_ref[z] are subtracted first, the model learns
E - sum_i E_ref[z_i]:

- ``element_refs: true``: the files' isolated-atom energies E0 (bench.data.labels) when there
  are any, else the least-squares fit on the train split (bench.data.stats.fit_element_refs);
- ``false``: none;
- ``"auto"`` (default): as ``true`` when the train split holds more than one composition
  (element counts) or the files hold E0s, else none (one molecule, MD17: the paper's setting,
  where a reference only shifts the energy mean).

A fit that reproduces every train energy (as many independent compositions as structures,
residual spread below EXACT_FIT_EV) leaves no spread to normalise by: a DataError.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np

from bench.data.stats import NormStats, compute_stats
from bench.data.structure import Structure
from bench.errors import DataError

#: residual spread (eV) below which a least-squares fit reproduces the train energies exactly
EXACT_FIT_EV = 1e-6


def compositions(structures: Sequence[Structure]) -> int:
    """How many distinct compositions (element -> count) ``structures`` hold."""
    return len({tuple(sorted(Counter(s.z.tolist()).items())) for s in structures})


def reference_stats(
    train: Sequence[Structure], mode: bool | str, e0s: dict[int, float] | None
) -> tuple[NormStats, dict]:
    """Train statistics with the references ``mode`` selects, and a record of the choice
    ``{"mode", "used", "source", "n_compositions"}`` (stored in the run's stats.json)."""
    n_comp = compositions(train)
    used = mode is True or (mode == "auto" and (n_comp > 1 or bool(e0s)))
    source = None if not used else ("isolated atoms" if e0s else "least-squares fit")
    record = {"mode": mode, "used": used, "source": source, "n_compositions": n_comp}
    if e0s and used:
        return stats_with_refs(train, e0s), record
    stats = compute_stats(train, element_refs=used)
    if used and stats.residual_std_ev < EXACT_FIT_EV:
        raise DataError(
            None,
            "element_refs",
            f"the per-element fit reproduces all "
            f"{len(train)} train energies (residual std {stats.residual_std_ev:.2g} "
            "eV: as many compositions as structures), so nothing is left to "
            "normalise; train on more structures (data.max_structures, "
            "data.n_train) or set data.element_refs=false",
        )
    return stats, record


def stats_with_refs(train: Sequence[Structure], refs: dict[int, float]) -> NormStats:
    """Train statistics after subtracting the given references ({Z: eV}); DataError naming
    the train elements that have none."""
    missing = sorted({int(z) for s in train for z in s.z} - set(refs))
    if missing:
        raise DataError(
            None,
            "E0",
            f"isolated-atom energies cover Z={sorted(refs)} but the "
            f"train split also holds Z={missing}; add their isolated-atom frames",
        )
    base = compute_stats(train)
    residual = np.array([s.energy - sum(refs[int(z)] for z in s.z) for s in train])
    return dataclasses.replace(
        base,
        element_refs_ev=dict(refs),
        residual_mean_ev=float(residual.mean()),
        residual_std_ev=float(residual.std()),
    )
