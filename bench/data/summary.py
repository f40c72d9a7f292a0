"""One-object summary of a dataset's splits (what `bench data info --json` prints)."""

from __future__ import annotations

from bench.data.lazy import bounded, pass_note
from bench.data.registry import SplitData
from bench.data.stats import compute_stats

_STAT_KEYS = ("energy_mean_ev", "energy_std_ev", "force_rms_ev_per_a", "force_std_ev_per_a")


def summarize(splits: SplitData) -> dict:
    """Sizes, composition and train-split label statistics of ``splits``.

    Keys: n_structures, n_atoms_min, n_atoms_max, elements (sorted atomic numbers), periodic,
    splits {train, val, test}, energy_kind, energy_mean_ev, energy_std_ev, force_rms_ev_per_a,
    force_std_ev_per_a (train split only; None without train structures), sources {path: sha256},
    passes {split: bench.data.lazy.pass_note}: atom counts, elements and statistics of a lazy
    split of more than bench.data.lazy.MAX_PASS structures come from a seeded sample.
    """
    parts = {k: bounded(getattr(splits, k)) for k in ("train", "val", "test")}
    everything = [s for part in parts.values() for s in part]
    sizes = [s.n_atoms for s in everything]
    out = {
        "n_structures": sum(len(getattr(splits, k)) for k in parts),
        "n_atoms_min": min(sizes, default=0),
        "n_atoms_max": max(sizes, default=0),
        "elements": sorted({int(z) for s in everything for z in s.z}),
        "periodic": splits.periodic,
        "splits": {k: len(getattr(splits, k)) for k in ("train", "val", "test")},
        "energy_kind": splits.energy_kind,
    }
    out |= dict.fromkeys(_STAT_KEYS)
    if splits.train:
        stats = compute_stats(parts["train"])
        out |= {
            "energy_mean_ev": stats.energy_mean_ev,
            "energy_std_ev": stats.energy_std_ev,
            "force_rms_ev_per_a": stats.force_rms_ev_per_a,
            "force_std_ev_per_a": stats.force_std_ev_per_a,
        }
    out["passes"] = {k: pass_note(getattr(splits, k), part) for k, part in parts.items()}
    out["sources"] = dict(splits.sources)
    return out
