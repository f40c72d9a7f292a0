"""Paired comparison of training regimes over seeds, and a plateau check of every run.

A seed fixes a run's initial weights (of the part the regimes share: bench.backbones build
the DeNS modules last), its data order and its corruption stream, so two runs of one comparison
group (bench.reports.summary.GROUP_KEYS: backbone, dataset, molecule, lmax, variant, a
non-default weight_init and scale label, which holds preset, epochs and the number of training
structures) with the same seed are a PAIR: they differ only in the regime.

- Arms: per group and method, the number of seeds, mean and sample std (ddof 1) of the test
  force MAE (meV/Angstrom) and energy MAE (meV), and how many runs plateaued.
- Contrasts: ``dens``, ``denoise-no-force`` and ``noisy-nodes`` against ``none``, and ``dens``
  against ``denoise-no-force`` (force encoding vs plain denoising), over the seeds both arms
  have: paired differences ``d_s = MAE(arm, s) - MAE(reference, s)`` (negative: the arm is
  better), their mean, the 95% t interval ``mean ± t(0.975, n-1) sd / sqrt(n)`` and the
  two-sided paired t-test p-value (n-1 degrees of freedom). The verdict says whether the
  interval excludes 0; with fewer than two pairs there is no interval.
- Pooled contrasts: per scale label (preset, epochs, training structures) and contrast, the
  pairs of every group at that scale (other molecules, backbones, lmax) together, as relative
  differences ``100 (MAE(arm, s) - MAE(reference, s)) / MAE(reference, s)`` (percent, so
  that molecules of different difficulty pool), with the same t interval over all pairs.
  Each pair counts once and pairs are treated as independent, which ignores that effects may
  differ between groups: the interval is for the average effect over the groups listed.
- Plateau: a run plateaued when the best validation force MAE of its last ``PLATEAU_TAIL``
  of training (by epoch, from ``log.jsonl``) improves on the best before it by less than
  ``PLATEAU_GAIN`` (relative). Runs with fewer than 4 validation points are "unknown".
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import pandas as pd

from bench.errors import ConfigError
from bench.reports.runs import Run, iter_log
from bench.reports.summary import runs_frame

FORCE = "test/force_mae_mev_per_a"
ENERGY = "test/energy_mae_mev"
#: (arm, reference) pairs compared, in report order
CONTRASTS = (
    ("dens", "none"),
    ("denoise-no-force", "none"),
    ("noisy-nodes", "none"),
    ("dens", "denoise-no-force"),
)
PLATEAU_TAIL = 0.2  # the last 20% of training (epochs)
PLATEAU_GAIN = 0.02  # less than 2% relative improvement there = plateaued
VAL_KEY = "force_mae_mev_per_a"


@dataclass(frozen=True)
class Paired:
    """A paired contrast over ``n`` seeds: differences (arm - reference, in the metric's unit),
    their mean, the 95% t interval (None for n < 2) and the two-sided p-value (None for n < 2
    or zero spread)."""

    diffs: tuple[float, ...]
    mean: float
    low: float | None
    high: float | None
    p: float | None

    @property
    def verdict(self) -> str:
        if self.low is None or self.high is None:
            return "too few pairs"
        if self.high < 0:
            return "arm better (CI < 0)"
        if self.low > 0:
            return "arm worse (CI > 0)"
        return "within seed spread"


def paired_t(diffs: list[float]) -> Paired:
    """The paired-t summary of per-seed differences ``diffs``."""
    from scipy import stats

    n = len(diffs)
    mean = statistics.fmean(diffs)
    if n < 2:
        return Paired(tuple(diffs), mean, None, None, None)
    sd = statistics.stdev(diffs)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    p = None if sd == 0 else float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))
    return Paired(tuple(diffs), mean, mean - half, mean + half, p)


def plateau(run: Run) -> bool | None:
    """Whether ``run``'s validation force MAE plateaued (module docstring); None when its log
    has fewer than 4 validation points."""
    points = [
        (line["epoch"], line[VAL_KEY])
        for line in iter_log(run)
        if line.get("split") == "val" and VAL_KEY in line and "epoch" in line
    ]
    if len(points) < 4:
        return None
    end = max(e for e, _ in points)
    cut = end * (1.0 - PLATEAU_TAIL)
    before = [v for e, v in points if e <= cut]
    after = [v for e, v in points if e > cut]
    if not before or not after:
        return None
    best_before, best = min(before), min(before + after)
    return (best_before - best) / best_before < PLATEAU_GAIN


def arms_frame(runs: list[Run]) -> pd.DataFrame:
    """Per group and method: seeds, mean ± std of the test MAEs, plateaued runs."""
    frame = _with_plateau(runs)
    if frame.empty:
        return frame
    rows = []
    for (group, method), sub in frame.groupby(["group", "method"], sort=True):
        rows.append(
            {
                "group": group,
                "method": method,
                "seeds": len(sub),
                "force MAE (meV/Å)": _mean_std(sub.get(FORCE)),
                "energy MAE (meV)": _mean_std(sub.get(ENERGY)),
                "params": _single(sub["params"]),
                "plateaued": f"{int((sub['plateau'] == True).sum())}/{len(sub)}",  # noqa: E712
            }
        )
    return pd.DataFrame(rows)


def contrasts_frame(runs: list[Run], metric: str = FORCE) -> pd.DataFrame:
    """Per group and contrast (:data:`CONTRASTS`): the paired differences of ``metric``."""
    rows = []
    for group, _, arm, ref, pairs in _pairs(runs, metric):
        seeds = [s for s, _, _ in pairs]
        result = paired_t([a - r for _, a, r in pairs])
        rows.append(_contrast_row(group, arm, ref, seeds, result))
    return pd.DataFrame(rows)


def pooled_frame(runs: list[Run], metric: str = FORCE) -> pd.DataFrame:
    """Per scale label and contrast, over every group at that scale with at least one pair:
    the relative paired differences of ``metric`` in percent (module docstring)."""
    pooled: dict[tuple[str, str, str], list[tuple[str, list]]] = {}
    for group, scale, arm, ref, pairs in _pairs(runs, metric):
        pooled.setdefault((scale, arm, ref), []).append((group, pairs))
    rows = []
    for (scale, arm, ref), groups in sorted(pooled.items()):
        rel = [100.0 * (a - r) / r for _, pairs in groups for _, a, r in pairs if r]
        result = paired_t(rel)
        ci = "-" if result.low is None else f"[{result.low:+.1f}, {result.high:+.1f}]"
        rows.append(
            {
                "scale": scale,
                "contrast": f"{arm} - {ref}",
                "groups": "; ".join(_short(group, scale) for group, _ in groups),
                "pairs": len(rel),
                "mean relative difference (%)": f"{result.mean:+.1f}",
                "95% CI (%)": ci,
                "p (t)": "-" if result.p is None else f"{result.p:.3f}",
                "verdict": result.verdict,
            }
        )
    return pd.DataFrame(rows)


def _pairs(runs: list[Run], metric: str):
    """Yield ``(group, scale, arm, reference, [(seed, arm value, reference value)])`` per
    group and contrast with at least one seed both arms have."""
    frame = _one_run_per_seed(runs_frame(runs))
    if frame.empty or metric not in frame:
        return
    for group, sub in frame.groupby("group", sort=True):
        by_method = {
            m: dict(zip(s["seed"], s[metric], strict=True)) for m, s in sub.groupby("method")
        }
        for arm, ref in CONTRASTS:
            if arm not in by_method or ref not in by_method:
                continue
            seeds = sorted(set(by_method[arm]) & set(by_method[ref]))
            seeds = [s for s in seeds if not _missing(by_method[arm][s], by_method[ref][s])]
            if seeds:
                pairs = [(s, float(by_method[arm][s]), float(by_method[ref][s])) for s in seeds]
                yield group, sub["scale"].iloc[0], arm, ref, pairs


def _short(group: str, scale: str) -> str:
    """A group key without its scale and dataset parts (the pooled row names the scale)."""
    parts = (p.split("=", 1) for p in group.split("; "))
    return " ".join(
        f"{k} {v}" if k in ("lmax", "variant", "weight_init") else v
        for k, v in parts
        if k not in ("scale", "dataset")
    )


def _contrast_row(group: str, arm: str, ref: str, seeds: list, result: Paired) -> dict:
    ci = "-" if result.low is None else f"[{result.low:+.2f}, {result.high:+.2f}]"
    return {
        "group": group,
        "contrast": f"{arm} - {ref}",
        "seeds": ",".join(str(s) for s in seeds),
        "per-seed differences": ", ".join(f"{d:+.2f}" for d in result.diffs),
        "mean difference": f"{result.mean:+.2f}",
        "95% CI": ci,
        "p (paired t)": "-" if result.p is None else f"{result.p:.3f}",
        "verdict": result.verdict,
    }


def render_paired(runs: list[Run], fmt: str = "md") -> str:
    """The arms table and the contrasts of the test force and energy MAEs."""
    from bench.reports.formats import frame_text

    parts = [
        frame_text(
            arms_frame(runs),
            fmt,
            "Arms: test MAE mean ± sample std over seeds; plateaued = validation force MAE "
            f"improved < {PLATEAU_GAIN:.0%} over the last {PLATEAU_TAIL:.0%} of training",
        )
    ]
    for metric, unit in ((FORCE, "meV/Å"), (ENERGY, "meV")):
        contrasts = contrasts_frame(runs, metric)
        title = (
            f"Paired contrasts of {metric} ({unit}): arm - reference per seed; "
            "negative = the arm has lower error"
        )
        if contrasts.empty and fmt != "csv":
            parts.append(f"**{title}**\n\nno arm has a reference run of the same seed yet\n")
        else:
            parts.append(frame_text(contrasts, fmt, title))
        pooled = pooled_frame(runs, metric)
        if not pooled.empty:
            parts.append(
                frame_text(
                    pooled,
                    fmt,
                    f"Pooled over the groups of one scale: relative paired differences of "
                    f"{metric}, 100 (arm - reference) / reference (%); pairs treated as "
                    "independent",
                )
            )
    return "\n".join(parts)


def _one_run_per_seed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` unchanged, or a ConfigError naming the runs when one arm of one group has
    two runs of one seed (e.g. two settings of a method parameter the group key does not
    hold): averaging or pairing them would mix two experiments."""
    if frame.empty:
        return frame
    for (group, method, seed), sub in frame.groupby(["group", "method", "seed"], sort=True):
        if len(sub) > 1:
            raise ConfigError(
                f"results: {method} seed {seed} of group {group} has {len(sub)} runs "
                f"({', '.join(sorted(sub['run']))}); keep one run per arm and seed in the "
                "folder(s) given to --paired"
            )
    return frame


def _with_plateau(runs: list[Run]) -> pd.DataFrame:
    frame = _one_run_per_seed(runs_frame(runs))
    if not frame.empty:
        by_name = {run.name: plateau(run) for run in runs}
        frame["plateau"] = [by_name[name] for name in frame["run"]]
    return frame


def _mean_std(values) -> str:
    if values is None:
        return "-"
    values = [float(v) for v in values if not _missing(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def _single(values) -> object:
    distinct = {v for v in values if not _missing(v)}
    return distinct.pop() if len(distinct) == 1 else ", ".join(str(v) for v in sorted(distinct))


def _missing(*values) -> bool:
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)
