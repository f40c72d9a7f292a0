"""All runs of a results directory as one pandas table, and the regime comparison: the
relative improvement of each method over ``none`` with everything else equal.

"Everything else equal" is the comparison group: backbone, dataset, molecule, lmax, config
variant, profile-free scale label. Improvement is ``(none - method) / none`` in percent of the
group means (positive = lower error than ``none``).
"""

from __future__ import annotations

import pandas as pd

from bench.errors import ConfigError
from bench.reports.match import run_scale
from bench.reports.runs import MISSING, Run

GROUP_KEYS = ("backbone", "dataset", "molecule", "lmax", "variant", "weight_init", "scale")
#: group keys left out of the group while they have this value (the common case)
GROUP_DEFAULTS = {"weight_init": "normal"}
CONFIG_COLUMNS = (
    "backbone",
    "method",
    "dataset",
    "molecule",
    "lmax",
    "variant",
    "weight_init",
    "profile",
    "seed",
)
#: the columns the regime comparison averages and compares
COMPARED = ("test/energy_mae_mev", "test/force_mae_mev_per_a")


def runs_frame(runs: list[Run]) -> pd.DataFrame:
    """One line per run: config, scale, cost, every recorded metric (``split/name``), and the
    improvement of its test MAEs over the ``none`` mean of its group (``*_vs_none_pct``)."""
    rows = []
    for run in runs:
        row = {"run": run.name}
        for key in CONFIG_COLUMNS:
            value = run.value(key)
            row[key] = None if value is MISSING else value
        rec = run.record
        row.update(
            scale=run_scale(run).label,
            params=rec.params,
            train_h=None if rec.wall_time_s is None else rec.wall_time_s / 3600.0,
            samples_per_s=rec.samples_per_s,
        )
        for split in sorted(rec.metrics):
            for name, value in sorted(rec.metrics[split].items()):
                row[f"{split}/{name}"] = value
        rows.append(row)
    frame = pd.DataFrame(rows, dtype=object)
    if frame.empty:
        return frame
    numeric = [c for c in frame.columns if "/" in c or c in ("train_h", "samples_per_s")]
    frame[numeric] = frame[numeric].apply(pd.to_numeric)
    frame["group"] = [_group_key(row) for _, row in frame.iterrows()]
    for column in COMPARED:
        if column in frame:
            frame[f"{column}_vs_none_pct"] = _vs_none(frame, column)
    return frame


def _group_key(row: pd.Series) -> str:
    return "; ".join(
        f"{key}={row[key]}"
        for key in GROUP_KEYS
        if row[key] is not None and GROUP_DEFAULTS.get(key) != row[key]
    )


def _vs_none(frame: pd.DataFrame, column: str) -> pd.Series:
    base = frame[frame["method"] == "none"].groupby("group")[column].mean()
    ref = frame["group"].map(base)
    return (ref - frame[column]) / ref * 100.0


def regimes_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Per comparison group and method: runs, mean and sample std (ddof 1; NaN for one run)
    of the test MAEs over its runs (one per seed), and the improvement over ``none``."""
    columns = [c for c in COMPARED if c in frame]
    if frame.empty or not columns:
        return pd.DataFrame()
    grouped = frame.groupby(["group", "method"], sort=True)
    out = grouped.agg({"run": "count", **{c: "mean" for c in columns}})
    for c in columns:
        out[f"{c}_std"] = grouped[c].std(ddof=1)
        out[f"{c}_vs_none_pct"] = grouped[f"{c}_vs_none_pct"].mean()
    return out.rename(columns={"run": "runs"}).reset_index()


def mean_std_text(regimes: pd.DataFrame) -> pd.DataFrame:
    """``regimes`` with each compared MAE as text ``mean ± std`` (``mean`` for one run)."""
    out = regimes.copy()
    for c in COMPARED:
        if c in out:
            out[c] = [
                "-" if pd.isna(m) else f"{m:.2f}" if pd.isna(sd) else f"{m:.2f} ± {sd:.2f}"
                for m, sd in zip(out[c], out.pop(f"{c}_std"), strict=True)
            ]
    return out.rename(columns={c: f"{c} (mean ± std)" for c in COMPARED if c in out})


def sort_frame(frame: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """``frame`` sorted by column ``by`` (None keeps run order); ConfigError for an unknown one."""
    if by is None or frame.empty:
        return frame
    if by not in frame:
        raise ConfigError(f"--sort: unknown column {by!r}; known: {', '.join(frame.columns)}")
    return frame.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)


def render_summary(runs: list[Run], fmt: str = "md", sort: str | None = None) -> str:
    """The runs table (sorted by ``sort``) and, except for CSV, the regime comparison."""
    from bench.reports.formats import frame_text

    frame = runs_frame(runs)
    runs_text = frame_text(sort_frame(frame, sort), fmt, f"Runs ({len(frame)})")
    if fmt == "csv":
        return runs_text
    regimes = mean_std_text(regimes_frame(frame))
    title = (
        "Regimes: test MAE mean ± sample std over seeds; improvement over none (%) = "
        "(none - method) / none, per group"
    )
    return runs_text + "\n" + frame_text(regimes, fmt, title)
