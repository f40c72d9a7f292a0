"""A dens-bench run directory from an ImportedModel: what ``bench eval``, ``bench relax``, the
ASE calculator (all through bench.train.setup.load_run_model) and ``bench export`` read.

Written: ``config.yaml`` (a RunConfig: backbone, preset, options, method ``dens`` when the
weights hold the DeNS heads, else ``none``), ``stats.json`` (normalisation from the
checkpoint; an OC22 model's per-element references ``energy_lin_ref`` (E_ref / E_std) become
``atom_ref`` = E_ref, always added, so predictions are total energies as with the reference's
``use_energy_lin_ref: True``), ``checkpoints/model.pt`` (the state dict) and ``metrics.json``
(status ``imported``, the source checkpoint and which weights were used). Everything is
built in a hidden sibling folder and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from bench.errors import ConfigError, DataError
from bench.imports.base import ImportedModel
from bench.imports.evaluated import IMPORTED
from bench.io import write_json_atomic, write_yaml_atomic
from bench.records import CHECKPOINT_DIR, CONFIG_FILE, RunRecord
from bench.train.normalization import Normalization


def write_run_dir(
    imported: ImportedModel,
    norm: dict[str, float] | None,
    source: Path,
    out: Path,
    kind: str,
    dtype: str,
) -> Path:
    """Write the run directory ``out`` (must not exist) and return it.

    Args:
        imported: the mapped model; norm: energy_mean / energy_std / force_std (eV, eV/A),
            None for the identity; source: the checkpoint file; kind: ``md17``, ``oc20``,
            ``oc22``;
        dtype: the RunConfig dtype (``float32`` as released, ``float64`` for parity checks).
    """
    from bench.backbones.registry import CAPABILITY_FLAGS
    from bench.config import RunConfig
    from bench.train.setup import MODEL_FILE, STATS_FILE, build_model, build_run_method

    if out.exists():
        raise ConfigError(f"--output {out}: already exists; give a new directory")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    dens = any(k.startswith("noise_head.") for k in imported.state_dict)
    run_id = out.name
    cfg = RunConfig.from_dict(
        {
            "run_id": run_id,
            "dtype": dtype,
            "preset": imported.preset or "paper",
            "results": str(out.parent),
            "data": {"name": kind, "kind": kind, "energy_kind": _ENERGY_KIND.get(kind, "total")},
            # the method (from the weights) decides the DeNS heads, not a layout's flag
            "model": {
                "backbone": imported.backbone,
                "options": {k: v for k, v in imported.options.items() if k not in CAPABILITY_FLAGS},
            },
            "method": {"name": "dens" if dens else "none"},
        },
        str(source),
    )
    stats = dict(norm or {"energy_mean": 0.0, "energy_std": 1.0, "force_std": 1.0})
    lin_ref = imported.source.get("energy_lin_ref")
    if lin_ref:
        stats["atom_ref"] = {str(z): v * stats["energy_std"] for z, v in enumerate(lin_ref) if v}
    model = build_model(cfg, build_run_method(cfg), Normalization.from_dict(stats, source))
    missing = model.load_state_dict(imported.state_dict, strict=False)
    if missing.missing_keys and any(k not in _NORM for k in missing.missing_keys):
        raise DataError(source, missing.missing_keys[0], "not set by the checkpoint")
    tmp = out.parent / f".{out.name}.importing"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / CHECKPOINT_DIR).mkdir(parents=True)
        torch.save(model.state_dict(), tmp / CHECKPOINT_DIR / MODEL_FILE)
        write_yaml_atomic(tmp / CONFIG_FILE, cfg.to_dict())
        write_json_atomic(tmp / STATS_FILE, stats)
        record = RunRecord(
            run_id=run_id,
            status=IMPORTED,
            config=cfg.to_dict(),
            seed=cfg.seed,
            params=sum(p.numel() for p in model.parameters()),
            scale={
                "preset": cfg.preset,
                "imported_from": {
                    "file": str(source),
                    "sha256": digest,
                    "weights": imported.weights,
                    **{
                        k: v
                        for k, v in imported.source.items()
                        if k in ("layout", "model", "epoch", "step")
                    },
                },
            },
        )
        record.write(tmp)
        (tmp / "source_config.json").write_text(
            json.dumps(imported.source.get("config") or {}, indent=1, default=str) + "\n"
        )
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


_NORM = ("energy_mean", "energy_std", "force_std", "atom_ref")
#: the energies a released model of each data kind predicts (OC20 S2EF: adsorption energies,
#: as its LMDB ``y``; OC22 and MD17: total energies), so that `bench eval` reads its data
_ENERGY_KIND = {"oc20": "referenced"}
