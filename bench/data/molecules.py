"""MD17 / rMD17 molecule names and the split assembly both readers share."""

from __future__ import annotations

from pathlib import Path

from bench.data.registry import DatasetSpec, SplitData
from bench.data.splits import MD17_N_TRAIN, MD17_N_VAL, random_split, take
from bench.data.structure import Structure
from bench.errors import DataError
from bench.registry import did_you_mean

#: accepted spellings -> canonical molecule name (the file-name part of both datasets)
ALIASES = {"salicylic_acid": "salicylic", "benzene2017": "benzene"}


def molecule_name(spec: DatasetSpec, known: tuple[str, ...], where: Path) -> str:
    """The canonical molecule of ``spec``; DataError naming ``where`` when unknown or unset."""
    if not spec.molecule:
        raise DataError(where, "molecule", f"no molecule given; known: {', '.join(known)}")
    name = ALIASES.get(spec.molecule, spec.molecule)
    if name not in known:
        raise DataError(where, "molecule", did_you_mean(spec.molecule, known))
    return name


def protocol_split(
    structures: list[Structure], spec: DatasetSpec, where: Path, sources: dict[str, str]
) -> SplitData:
    """The paper's MD17 protocol on ``structures``: seeded permutation, n_train/n_val/rest."""
    n_train = MD17_N_TRAIN if spec.n_train is None else spec.n_train
    n_val = MD17_N_VAL if spec.n_val is None else spec.n_val
    tr, va, te = random_split(len(structures), n_train, n_val, spec.split_seed, where)
    lim = spec.max_structures
    return SplitData(
        train=take(structures, tr, lim),
        val=take(structures, va, lim),
        test=take(structures, te, lim),
        periodic=False,
        sources=sources,
    )
