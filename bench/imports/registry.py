"""Checkpoint layouts by name, resolved lazily, and the one function `bench import` calls."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import torch

from bench.errors import ConfigError, DataError
from bench.imports.base import ImportedModel
from bench.registry import did_you_mean

#: layout name -> "module:function" turning a loaded checkpoint into an ImportedModel
LAYOUTS = {
    "dens": "bench.imports.dens:convert",
    "fairchem": "bench.imports.fairchem:convert",
    "equiformer": "bench.imports.equiformer:convert",
}
#: datasets an imported OC model can be evaluated on
KINDS = ("md17", "oc20", "oc22")


def resolve_layout(name: str):
    """The ``convert`` function of layout ``name``; ConfigError (with a did-you-mean hint) for
    an unknown name or a layout whose module is not installed."""
    if name not in LAYOUTS:
        raise ConfigError(f"--from: layout {did_you_mean(name, tuple(LAYOUTS))}")
    module_name, attr = LAYOUTS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigError(f"--from {name}: layout module {module_name} is not installed") from exc
    return getattr(module, attr)


def load_checkpoint(path: Path) -> dict:
    """The checkpoint's contents without unpickling arbitrary objects (weights_only)."""
    if not path.is_file():
        raise DataError(path, None, "no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise DataError(
            path,
            None,
            "refused: holds objects other than tensors and plain "
            f"containers (weights_only load failed: {str(exc).splitlines()[0]})",
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise DataError(path, None, f"not a readable torch checkpoint ({exc})") from exc
    if not isinstance(checkpoint, dict):
        raise DataError(path, None, f"expected a dict checkpoint, got {type(checkpoint).__name__}")
    return checkpoint


def import_checkpoint(
    layout: str,
    path: Path,
    output: Path | None = None,
    kind: str | None = None,
    dtype: str = "float32",
) -> tuple[Path, ImportedModel]:
    """Convert checkpoint ``path`` of ``layout`` into a run directory (default
    ``results/imported/<file stem>``); returns it and the ImportedModel."""
    from bench.imports.fairchem_keys import normalisation
    from bench.imports.run_dir import write_run_dir

    convert = resolve_layout(layout)
    checkpoint = load_checkpoint(path)
    imported = convert(checkpoint, str(path))
    kind = kind or imported.kind or _kind(imported)
    if kind not in KINDS:
        raise ConfigError(f"--dataset must be one of {KINDS}, got {kind!r}")
    out = output or Path("results") / "imported" / path.stem
    norm = normalisation(checkpoint, str(path))
    return write_run_dir(imported, norm, path, out, kind, dtype), imported


def _kind(imported: ImportedModel) -> str:
    """``oc22`` when the checkpoint's config names OC22 data or per-element references."""
    text = str((imported.source.get("config") or {}).get("dataset", "")).lower()
    return "oc22" if "oc22" in text or imported.source.get("energy_lin_ref") else "oc20"
