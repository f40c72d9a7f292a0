"""Optional copies of the training log (``bench run --log tensorboard,csv,wandb``).

``log.jsonl`` stays the source of truth (resume truncates it, reports read it); a sink gets
every entry the Trainer writes there, as ``{"step", "epoch", "split", <name>: number}``:

- ``csv``: ``<run_dir>/log.csv``, long format ``step,epoch,split,name,value`` (one row per
  value, so train and validation lines with different names share one file); on resume,
  rows after the resumed step are dropped, as in log.jsonl.
- ``tensorboard``: event files in ``<run_dir>/tensorboard/``, scalars ``<split>/<name>`` by
  step; needs the ``tensorboard`` package (``pip install -c constraints.txt
  "dens-bench[tensorboard]"``).
- ``wandb``: one Weights & Biases run named after the run id, when ``wandb`` is installed.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path
from typing import Any, Protocol

from bench.errors import ConfigError
from bench.io import write_text_atomic
from bench.registry import did_you_mean

SINKS = ("csv", "tensorboard", "wandb")
CSV_FILE = "log.csv"
_CSV_HEADER = ["step", "epoch", "split", "name", "value"]
#: sink -> the module it needs
_NEEDS = {"tensorboard": "tensorboard", "wandb": "wandb"}


class Sink(Protocol):
    def write(self, entry: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def check_sinks(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The sink names, checked: known, and their package importable (ConfigError)."""
    for name in names:
        if name not in SINKS:
            raise ConfigError(f"--log: unknown sink {did_you_mean(name, SINKS)}")
        module = _NEEDS.get(name)
        if module and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"--log {name} needs the {module!r} package: pip install -c "
                f"constraints.txt {module}"
            )
    return tuple(dict.fromkeys(names))


def open_sinks(names: tuple[str, ...], run_dir: Path, run_id: str, step: int) -> list[Sink]:
    """The sinks ``names`` for ``run_dir``, continuing after ``step`` (0 for a new run)."""
    makers = {"csv": CsvSink, "tensorboard": TensorBoardSink, "wandb": WandbSink}
    return [makers[n](run_dir, run_id, step) for n in check_sinks(names)]


def _numbers(entry: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in entry.items()
        if k not in ("step", "epoch", "split")
        and isinstance(v, int | float)
        and not isinstance(v, bool)
    }


class CsvSink:
    """``log.csv`` in long format (module docstring)."""

    def __init__(self, run_dir: Path, run_id: str, step: int) -> None:
        self.path = run_dir / CSV_FILE
        kept = _rows_up_to(self.path, step)
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([_CSV_HEADER, *kept])
        write_text_atomic(self.path, text.getvalue())

    def write(self, entry: dict[str, Any]) -> None:
        rows = [
            [entry["step"], entry.get("epoch", ""), entry.get("split", ""), k, v]
            for k, v in _numbers(entry).items()
        ]
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)

    def close(self) -> None:
        return None


def _rows_up_to(path: Path, step: int) -> list[list[str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return [r for r in rows if len(r) == len(_CSV_HEADER) and r[0].isdigit() and int(r[0]) <= step]


class TensorBoardSink:
    """Scalars ``<split>/<name>`` by step in ``<run_dir>/tensorboard/``."""

    def __init__(self, run_dir: Path, run_id: str, step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=step + 1)

    def write(self, entry: dict[str, Any]) -> None:
        for name, value in _numbers(entry).items():
            self.writer.add_scalar(f"{entry.get('split', 'train')}/{name}", value, entry["step"])

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """One wandb run per dens-bench run (resumed under the same id)."""

    def __init__(self, run_dir: Path, run_id: str, step: int) -> None:
        import wandb

        self.run = wandb.init(name=run_id, id=run_id, dir=str(run_dir), resume="allow")

    def write(self, entry: dict[str, Any]) -> None:
        split = entry.get("split", "train")
        self.run.log({f"{split}/{k}": v for k, v in _numbers(entry).items()}, step=entry["step"])

    def close(self) -> None:
        self.run.finish()
