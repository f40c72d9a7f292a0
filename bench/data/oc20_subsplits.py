"""OC20 and OC22 validation/test sub-splits, named from the folders the data ships in.

OC20 ships S2EF/IS2RE validation data as four folders, ``val_id``, ``val_ood_ads`` (unseen
adsorbates), ``val_ood_cat`` (unseen catalysts) and ``val_ood_both``; the paper reports each and
their average. OC22 ships ``val_id`` / ``val_ood`` (and ``test_id`` / ``test_ood``), reported
separately. A structure's sub-split is known when a folder of its source path
(``info["source"]``, set by every reader) has one of these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.data.structure import Structure

#: the four OC20 sub-splits, in the paper's column order (their mean is the paper's "average")
OC20_SUBSPLITS = ("id", "ood_ads", "ood_cat", "ood_both")
#: every known sub-split name (OC22 adds "ood"; its "id" is shared)
SUBSPLITS = (*OC20_SUBSPLITS, "ood")
#: folder names of the published data -> sub-split
FOLDERS = {f"{prefix}_{name}": name for prefix in ("val", "test") for name in SUBSPLITS}


def subsplit_of(structure: Structure) -> str | None:
    """The sub-split of ``structure`` from its source path (:func:`subsplit_of_path`)."""
    source = structure.info.get("source")
    return None if source is None else subsplit_of_path(source)


def subsplits_of(structures: Sequence[Structure]) -> list[str | None]:
    """:func:`subsplit_of` of each structure; a lazy split (bench.data.lazy.LazyStructures)
    answers from its source file names, reading no entry."""
    from bench.data.lazy import LazyStructures

    if not isinstance(structures, LazyStructures):
        return [subsplit_of(s) for s in structures]
    sources = structures.sources()
    by_file = {source: subsplit_of_path(source) for source in set(sources)}
    return [by_file[s] for s in sources]


def subsplit_of_path(path: str | Path) -> str | None:
    """The sub-split named by the nearest folder of ``path`` with a published name (``id``,
    ``ood_ads``, ``ood_cat``, ``ood_both``, ``ood``); None when there is none."""
    for part in reversed(Path(path).parts[:-1]):
        if part in FOLDERS:
            return FOLDERS[part]
    return None
