"""Small parity fixtures: reduced reference EquiformerV2 / eSCN checkpoints in fairchem's own
layout, plus the reference's outputs on a fixed OC20 frame (float64).

For each model (fairchem EquiformerV2; DeNS EquiformerV2 and eSCN with the DeNS heads) this
writes tests/data/parity/fairchem_<id>.pt (the checkpoint: ``module.``-prefixed state_dict,
config, epoch, step, normaliser, for eSCN an EMA state), fairchem_<id>.npz (inputs and
reference outputs) and fairchem_<id>.json (reference commit, config, command), then imports
the checkpoint with `bench import` and prints the differences of dens-bench's predictions.

    PYTHONPATH=$PWD python3 tools/parity/fairchem_fixtures.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fairchem_compare  # noqa: E402
import fairchem_models as fm  # noqa: E402

OUT = fm.ROOT / "tests" / "data" / "parity"
#: the released OC20 S2EF-2M normaliser (DeNS configs): energy mean / std, force std
NORM = {
    "energy_mean": -0.7554450631141663,
    "energy_std": 2.887317180633545,
    "force_std": 2.887317180633545,
}
#: fixtures written with an EMA state (it doubles a file; the committed ones have none and
#: tests/unit/imports builds one; run with --ema to check reference-written EMA states)
WITH_EMA = ("escn_dens",) if "--ema" in sys.argv else ()


def write(model_id: str) -> dict:
    """Write the three fixture files of ``model_id``; return the measured differences."""
    from ase.io import read

    from bench.imports.registry import import_checkpoint

    layout, name, config_file = fm.MODELS[model_id]
    cfg = fm.tiny_config(model_id)
    if layout == "dens":  # DeNS configs carry the normaliser as a dataset transform
        cfg["config"]["dataset"]["train"]["transforms"]["normalizer"] = {
            "energy": {"mean": NORM["energy_mean"], "stdev": NORM["energy_std"]},
            "forces": {"mean": 0.0, "stdev": NORM["force_std"]},
        }
    norm = (
        None
        if layout == "dens"
        else {
            "target": {
                "mean": torch.tensor(NORM["energy_mean"]),
                "std": torch.tensor(NORM["energy_std"]),
            },
            "grad_target": {"mean": torch.tensor(0.0), "std": torch.tensor(NORM["force_std"])},
        }
    )
    model = fm.build(model_id, cfg["attrs"], seed=0)
    ckpt = fm.checkpoint(
        model, model_id, cfg, ema=model_id in WITH_EMA, norm=norm, strip=True, dtype=torch.float32
    )
    inputs = fm.frame_inputs(0)
    dens = layout == "dens"
    ref = fm.reference_outputs(model, inputs, dens)
    stem = (OUT if not WITH_EMA else Path(tempfile.mkdtemp())) / f"fairchem_{model_id}"
    torch.save(ckpt, stem.with_suffix(".pt"), _use_new_zipfile_serialization=False)
    given = fm.as_numpy(inputs)
    arrays = fm.as_numpy(ref) | {
        "noisy_pos": given["noisy_pos"],
        "noise_mask": given["noise_mask"],
        "encoded_forces": given["forces"],
    }
    np.savez_compressed(stem.with_suffix(".npz"), **arrays)
    with tempfile.TemporaryDirectory() as tmp:
        run, imported = import_checkpoint(
            layout, stem.with_suffix(".pt"), Path(tmp) / "run", dtype="float64"
        )
        ours = fairchem_compare.our_outputs(run, read(fm.FRAME, 0), arrays, dens)
    diffs = fairchem_compare.differences(
        fairchem_compare.reference_in_units(arrays, NORM),
        ours,
        arrays["noise_mask"].astype(bool),
        NORM,
    )
    tiny = fm.TINY_ESCN if model_id.startswith("escn") else fm.TINY_EQ2
    meta = {
        "reference": fm.COMMITS[layout]
        + ("" if layout == "fairchem" else " on " + fm.COMMITS["fairchem"]),
        "reference_model": name,
        "layout": layout,
        "config": f"DeNS configs/{config_file}, model section, with {tiny}",
        "inputs": "tests/data/oc20_relax/random1000156.traj frame 0; noisy_pos = pos + 0.1 A "
        "Gaussian noise on noise_mask atoms (torch seed 1234); encoded_forces = the "
        "frame's DFT forces (encoded on noise_mask atoms)",
        "file_format": "torch.save legacy (non-zip) serialisation, to keep the file small",
        "weights": f"seed 0, stored float32; EMA: {model_id in WITH_EMA} "
        f"(imported: {imported.weights})",
        "stripped": "architecture constants (SO3 tables, expand_index, balance_degree_weight, "
        "Gaussian offsets, eSCN sphere points and harmonics: "
        "bench.imports.fairchem_keys.CONSTANT_BUFFERS) removed from the state dict "
        "to keep the file small",
        "outputs": "raw reference outputs, normalised units (float64); denoise_output is its "
        "combined forces output of the denoising forward",
        "dens_bench_differences": diffs,
        "date": str(date.today()),
        "command": "PYTHONPATH=$PWD python3 tools/parity/fairchem_fixtures.py",
    }
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return diffs


def main() -> None:
    torch.set_default_dtype(torch.float64)
    for model_id in [a for a in sys.argv[1:] if not a.startswith("--")] or list(fm.MODELS):
        print(model_id, json.dumps(write(model_id)), flush=True)


if __name__ == "__main__":
    main()
