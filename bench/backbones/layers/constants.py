"""Constants of the irreps that state dicts no longer store.

Coupling matrices and index maps are rebuilt from the irreps by every constructor, so they
are non-persistent buffers. State dicts written before that (checkpoints, run directories)
still carry them; a layer drops those copies on load with :func:`drop_stale`.
"""

from __future__ import annotations

import re


def drop_stale(state_dict: dict, prefix: str, names: re.Pattern) -> None:
    """Delete, in place, the entries ``prefix + name`` of ``state_dict`` whose ``name``
    (direct entries of this module only) fully matches ``names``."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if names.fullmatch(key[len(prefix) :]):
            del state_dict[key]
