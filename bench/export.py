"""One self-contained model file: ``bench export --run R --output model.pt``.

The file is ``torch.save`` of plain containers and tensors only, so it loads with
``torch.load(path, weights_only=True)`` (nothing in it is executed):

    format          "dens-bench-model"
    format_version  1
    bench_version   the dens-bench version that wrote it
    run_id          the run it came from
    config          the run's RunConfig as a dict (backbone, preset, method, dtype, ...)
    normalization   stats.json of the run (energy_mean, energy_std in eV, force_std in
                    eV/Angstrom, atom_ref {z: eV} or None, train_stats)
    state_dict      the evaluation weights (EMA weights when the run used EMA)

:func:`load_model` rebuilds the network from ``config`` with the installed backbones and
loads ``state_dict``; it accepts a run directory or such a file, so ``bench eval`` and the
ASE calculator need neither the run folder nor the source tree.

TorchScript: ``bench export --torchscript`` writes a traced energy model instead
(bench.torchscript), for every backbone with gradient forces. ``torch.jit.script`` of the
backbones fails (PyG's SchNet layers close over Python floats; every backbone takes a
Python-level batch object), and tracing the whole ``forward`` fails (gradient forces call
``torch.autograd.grad`` inside it; the neighbour search loops over structures in Python), so
what is traced is the energy on a neighbour graph given as input, and forces are taken by
autograd on the loaded module.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench import __version__
from bench.config import RunConfig, load_yaml
from bench.errors import DataError
from bench.io import write_bytes_atomic
from bench.records import CHECKPOINT_DIR, CONFIG_FILE

FORMAT = "dens-bench-model"
FORMAT_VERSION = 1
_FIELDS = (
    "format",
    "format_version",
    "bench_version",
    "run_id",
    "config",
    "normalization",
    "state_dict",
)


def export_run(run_dir: str | Path, output: str | Path) -> Path:
    """Write the self-contained model file of the finished run ``run_dir`` to ``output``."""
    from bench.train.setup import MODEL_FILE, STATS_FILE

    run_dir = Path(run_dir)
    cfg = _run_config(run_dir)
    weights = run_dir / CHECKPOINT_DIR / MODEL_FILE
    if not weights.is_file():
        raise DataError(weights, None, "no final weights (did the run finish?)")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bench_version": __version__,
        "run_id": cfg.run_id,
        "config": cfg.to_dict(),
        "normalization": json.loads((run_dir / STATS_FILE).read_text()),
        "state_dict": torch.load(weights, map_location="cpu", weights_only=True),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_bytes_atomic(output, buffer.getvalue())


def load_model(source: str | Path, device: str = "cpu") -> tuple[nn.Module, RunConfig]:
    """The evaluation model (eval mode, on ``device``) and config of a run directory or of
    an exported model file; DataError naming the file when it is neither."""
    from bench.train.setup import check_device, load_run_model

    source = Path(source)
    if source.is_dir():
        model, cfg = load_run_model(source, device)
        return model.eval(), cfg
    check_device(device)
    payload = read_model_file(source)
    cfg = RunConfig.from_record(payload["config"], f"{source}: config")
    cfg.device = device
    return _build(cfg, payload["normalization"], payload["state_dict"], source), cfg


def read_model_file(path: Path) -> dict[str, Any]:
    """The checked contents of an exported model file."""
    if not path.is_file():
        raise DataError(path, None, "no such run directory or model file")
    if _is_torchscript(path):
        raise DataError(
            path,
            None,
            "a TorchScript file (bench export --torchscript); it is "
            "not read here: bench.torchscript.load_torchscript loads it",
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one clear error
        raise DataError(path, None, f"not a dens-bench model file ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(path, "format", f"not a {FORMAT} file (bench export writes one)")
    missing = [k for k in _FIELDS if k not in payload]
    if missing:
        raise DataError(path, missing[0], "missing from the model file")
    if payload["format_version"] != FORMAT_VERSION:
        raise DataError(
            path,
            "format_version",
            f"{payload['format_version']!r}; this dens-bench reads version {FORMAT_VERSION}",
        )
    return payload


def _is_torchscript(path: Path) -> bool:
    """True for a zip archive with TorchScript's ``constants.pkl`` (names only; nothing read)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def _build(cfg: RunConfig, norm: dict, state: dict, path: Path) -> nn.Module:
    from bench.train.normalization import Normalization
    from bench.train.setup import build_model, build_run_method

    model = build_model(cfg, build_run_method(cfg), Normalization.from_dict(norm, path))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(
            path,
            "state_dict",
            f"does not fit {cfg.model.backbone!r} "
            f"preset {cfg.preset!r} ({str(exc).splitlines()[0]})",
        ) from exc
    return model.eval()


def _run_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise DataError(run_dir, None, "not a run directory (no config.yaml)")
    return RunConfig.from_record(load_yaml(path), str(path))
