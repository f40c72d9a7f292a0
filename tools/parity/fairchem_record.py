"""The paper-size parity record: reference EquiformerV2 (83M, with and without the DeNS heads)
and eSCN with the DeNS heads against dens-bench, float64, on one OC20 frame.

Each reference model is built at the released S2EF-2M size (DeNS configs), written in
fairchem's checkpoint layout (float64 weights), imported with `bench import` and evaluated by
both codes; the differences of energy, forces and noise go to results/parity/fairchem.json.
Twice per model: with the reference's edge frames replaced by dens-bench's deterministic ones
(``frames: ours``; isolates the code) and with its own random roll about each edge
(``frames: random``; shows the grid-quadrature effect of that roll). One model at a time
(several GB each).

    PYTHONPATH=$PWD python3 tools/parity/fairchem_record.py [eq2 eq2_dens escn_dens]
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fairchem_compare  # noqa: E402
import fairchem_models as fm  # noqa: E402

from bench.data.paths import default_data_root  # noqa: E402

OUT = fm.ROOT / "results" / "parity" / "fairchem.json"
SHARED_FRAME = default_data_root() / "oc20_relax" / "random1000151.traj"  # 77 atoms


def record(model_id: str) -> dict:
    from ase.io import read

    from bench.imports.registry import import_checkpoint

    layout, name, config_file = fm.MODELS[model_id]
    frame = SHARED_FRAME if SHARED_FRAME.exists() else fm.FRAME
    inputs = fm.frame_inputs(0, frame)
    arrays = fm.as_numpy(inputs) | {"encoded_forces": inputs["forces"].numpy()}
    cfg = fm.paper_config(model_id)
    model = fm.build(model_id, cfg["attrs"], seed=0, our_frames=True)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    ckpt = fm.checkpoint(model, model_id, cfg, dtype=torch.float64)
    dens = layout == "dens"
    start = time.time()
    refs = {"ours": fm.reference_outputs(model, inputs, dens)}
    seconds = time.time() - start
    model._init_edge_rot_mat = type(model)._init_edge_rot_mat.__get__(model)
    refs["random"] = fm.reference_outputs(model, inputs, dens)
    del model
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model_id}.pt"
        torch.save(ckpt, path)
        del ckpt
        run, imported = import_checkpoint(layout, path, Path(tmp) / "run", dtype="float64")
        ours = fairchem_compare.our_outputs(run, read(frame, 0), arrays, dens)
        norm = json.loads((run / "stats.json").read_text())
    out = {
        "reference": fm.COMMITS[layout]
        + ("" if layout == "fairchem" else " on " + fm.COMMITS["fairchem"]),
        "reference_model": name,
        "config": f"DeNS configs/{config_file}",
        "trainable_parameters": params,
        "frame": f"{frame.name} frame 0 ({len(inputs['z'])} atoms)",
        "reference_forward_s": round(seconds, 1),
    }
    for frames, ref in refs.items():
        arrays_ref = fm.as_numpy(ref) | {"noise_mask": arrays["noise_mask"]}
        out[f"frames_{frames}"] = fairchem_compare.differences(
            fairchem_compare.reference_in_units(arrays_ref, norm),
            ours,
            arrays["noise_mask"].astype(bool),
            norm,
        )
    return out


def main() -> None:
    torch.set_default_dtype(torch.float64)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data["_about"] = {
        "what": "max abs / max rel (|a-b| max over max |ref|) differences of dens-bench vs the "
        "reference on the same weights, float64, eval mode; energy in the model's normalised "
        "units, forces in eV/A (the config's normaliser), noise as output; frames_ours: the "
        "reference's edge frames replaced by dens-bench's, frames_random: its own random roll "
        "(seeded)",
        "command": "PYTHONPATH=$PWD python3 tools/parity/fairchem_record.py",
        "date": str(date.today()),
    }
    for model_id in sys.argv[1:] or list(fm.MODELS):
        data[model_id] = record(model_id)
        print(model_id, json.dumps(data[model_id]), flush=True)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(data, indent=1) + "\n")
        gc.collect()


if __name__ == "__main__":
    main()
