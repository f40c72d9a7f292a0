"""Match a run to a paper-table cell by its resolved config, and describe the run's scale.

A cell is defined by its row's ``match`` keys plus its column's (e.g. ``molecule``). A run
matches when every key has an equal value in the run's resolved config (numbers compare with a
relative tolerance of 1e-9, molecule names through the data layer's aliases). A key the config
does not set takes the table's ``defaults`` value, else the run does not match. Directory names
are never looked at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.reports.runs import MISSING, Run

#: a paper dataset -> runs on other data that reproduce it: (dataset, required keys, note)
DATASET_STAND_INS: dict[str, tuple[tuple[str, dict[str, Any], str], ...]] = {
    "md17": (("rmd17", {"labels": "original"}, "rMD17 frames, original MD17 labels"),),
}
#: methods whose hyper-parameters depend on the profile (a `none` run fits any profile)
PROFILE_FREE_METHODS = ("none",)


@dataclass(frozen=True)
class Match:
    """A run that fits a cell; ``data_note`` says when it ran on stand-in data."""

    run: Run
    data_note: str | None = None


def match_run(run: Run, criteria: dict[str, Any], defaults: dict[str, Any]) -> Match | None:
    """A Match when ``run`` fits every key of ``criteria``, else None."""
    note = None
    for key, want in criteria.items():
        got = run.value(key)
        if got is MISSING:
            got = defaults.get(key, MISSING)
        if key == "dataset" and not same_value(key, want, got):
            note = _stand_in_note(run, want, got)
            if note is None:
                return None
        elif not same_value(key, want, got):
            return None
    return Match(run, note)


def _stand_in_note(run: Run, want: Any, got: Any) -> str | None:
    for dataset, required, note in DATASET_STAND_INS.get(want, ()):
        if got == dataset and all(same_value(k, v, run.value(k)) for k, v in required.items()):
            return note
    return None


def same_value(key: str, want: Any, got: Any) -> bool:
    """Equality of a table value and a config value (see module docstring)."""
    if got is MISSING or got is None:
        return want is None
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(want, bool) and isinstance(got, bool) and want == got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(want, got, rel_tol=1e-9, abs_tol=0.0)
    if key == "molecule":
        return _molecule(str(want)) == _molecule(str(got))
    return str(want) == str(got)


def _molecule(name: str) -> str:
    from bench.data.molecules import ALIASES

    return ALIASES.get(name, name)


def profile_fits(method: str, run: Run, profile: str | None) -> bool:
    """Whether ``run`` counts under ``profile`` (None: any) for a row of ``method``."""
    return profile is None or method in PROFILE_FREE_METHODS or run.profile == profile


@dataclass(frozen=True)
class Scale:
    """How a run compares with the paper's training scale. ``paper`` is True only for a
    run recorded as paper scale on the paper's own data."""

    paper: bool
    label: str


def run_scale(run: Run, data_note: str | None = None) -> Scale:
    """The scale of ``run`` from ``RunRecord.scale`` (preset, epochs, n_train, paper_scale)."""
    scale = run.record.scale or {}
    if not scale:
        label, paper = "scale not recorded", False
    elif scale.get("paper_scale") is True:
        label, paper = f"paper scale{_network(scale)}", True
    else:
        parts = [
            f"preset {scale['preset']}{_network(scale)}" if "preset" in scale else None,
            f"{scale['epochs']:g} epochs" if scale.get("epochs") is not None else None,
            f"n_train {scale['n_train']}" if scale.get("n_train") is not None else None,
        ]
        label = "SMALLER SCALE: " + ", ".join(p for p in parts if p)
        paper = False
    if data_note:
        label, paper = f"{label}; {data_note}", False
    return Scale(paper, label)


def _network(scale: dict) -> str:
    """`` (channels=32, num_blocks=3)``: the architecture keys a run changed from its preset
    (``RunRecord.scale["network_overrides"]``, bench.config.network_overrides); empty when
    none were or the record predates the field."""
    overrides = scale.get("network_overrides") or {}
    return f" ({', '.join(f'{k}={v}' for k, v in sorted(overrides.items()))})" if overrides else ""
