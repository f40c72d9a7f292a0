"""The learning check of `bench ci-check` (its default mode): every backbone learns.

A short training run of every backbone x method of ``configs/ci_learning.yaml`` on the
packaged rMD17 ethanol subset (ci preset), with that file's steps and learning rate per
backbone, must lower

- the training loss: mean over the first epoch's steps / mean over the last epoch's, and
- the validation force MAE: after the first epoch / after the last,

each by at least the file's factor. An untrained model predicts forces near zero (force
MAE ~880 meV/Angstrom on this subset); a backbone whose forces do not train, or a method
that breaks training, fails here, which the exact comparison of near-untrained models
(``--exact``) does not see. The file states the measurements the settings come from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import CONFIG_DIR, load_yaml
from bench.errors import ConfigError
from bench.records import LOG_FILE

SETTINGS_FILE = CONFIG_DIR / "ci_learning.yaml"
#: matrix settings shared by every backbone's learning runs
SHARED: dict[str, Any] = {
    "datasets": ["rmd17"],
    "molecules": ["ethanol"],
    "seeds": [0],
    "preset": "ci",
    "threads": 1,
}


def settings() -> dict[str, Any]:
    """``ci_learning.yaml``: ``methods``, ``factors`` and ``backbones`` (name -> max_steps,
    lr); ConfigError when a registered backbone has no entry."""
    from bench.backbones.registry import BACKBONES

    data = load_yaml(SETTINGS_FILE)
    missing = sorted(set(BACKBONES) - set(data.get("backbones") or {}))
    if missing:
        raise ConfigError(f"{SETTINGS_FILE}: field 'backbones' lacks {missing}")
    return data


def matrices(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One matrix spec (a dict for bench.matrix.spec_from_dict) per backbone of ``data``."""
    return [
        dict(
            SHARED,
            backbones=[name],
            methods=list(data["methods"]),
            max_steps=entry["max_steps"],
            overrides={"train.lr": entry["lr"]},
        )
        for name, entry in sorted(data["backbones"].items())
    ]


@dataclass(frozen=True)
class Learning:
    """First / last ratio of one quantity of one run; ``problem`` None when it fell enough."""

    run: str
    quantity: str
    first: float | None = None
    last: float | None = None
    problem: str | None = None

    @property
    def factor(self) -> float | None:
        if self.first is None or not self.last:
            return None
        return self.first / self.last


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The entries of a run's log.jsonl."""
    text = (Path(run_dir) / LOG_FILE).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def curves(entries: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """``{"train_loss": (first epoch mean, last epoch mean), "val_force_mae": (first, last)}``
    from log entries (train entries carry ``loss`` and ``epoch``, val entries
    ``force_mae_mev_per_a``); a quantity the log lacks is left out."""
    out = {}
    train = [e for e in entries if e.get("split") == "train" and "loss" in e]
    if train:
        first_epoch = [e["loss"] for e in train if e["epoch"] <= 1.0]
        last_start = max(e["epoch"] for e in train) - 1.0
        last_epoch = [e["loss"] for e in train if e["epoch"] > last_start]
        out["train_loss"] = (_mean(first_epoch), _mean(last_epoch))
    val = [
        e["force_mae_mev_per_a"]
        for e in entries
        if e.get("split") == "val" and "force_mae_mev_per_a" in e
    ]
    if len(val) >= 2:
        out["val_force_mae"] = (val[0], val[-1])
    return out


def judge(run: str, entries: list[dict[str, Any]], factors: dict[str, float]) -> list[Learning]:
    """One Learning per quantity of ``factors`` (minimum first / last ratios) for the log
    ``entries`` of ``run``."""
    found = curves(entries)
    out = []
    for quantity, factor in factors.items():
        if quantity not in found:
            out.append(Learning(run, quantity, problem="missing from log.jsonl"))
            continue
        first, last = found[quantity]
        ok = last > 0 and first / last >= factor
        out.append(
            Learning(run, quantity, first, last, None if ok else f"fell by less than x{factor:g}")
        )
    return out


def report(results: list[Learning], failures: dict[str, str], factors: dict[str, float]) -> str:
    """One summary line, then one line per failing run or quantity."""
    bad = [r for r in results if r.problem]
    total = len(results) + len(failures)
    head = (
        f"ci-check (learning): {total - len(bad) - len(failures)} of {total} checks "
        f"passed (first / last must reach {_shown(factors)})"
    )
    lines = [f"  {run}: run failed: {why}" for run, why in sorted(failures.items())]
    for r in bad:
        shown = "-" if r.factor is None else f"{r.first:.4g} -> {r.last:.4g} (x{r.factor:.3g})"
        lines.append(f"  {r.run} {r.quantity}: {shown}: {r.problem}")
    if not lines:
        return head + "\n"
    return f"{head}; {len(lines)} FAILED:\n" + "\n".join(lines) + "\n"


def _shown(factors: dict[str, float]) -> str:
    return ", ".join(f"{k} x{v:g}" for k, v in factors.items())


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)
