"""Reference neighbour lists: fairchem's radius_graph_pbc on OC20 frames, as test fixtures.

Runs fairchem's own graph code (tag fairchem_core-1.9.0, float32 inputs as its OC20 LMDBs
hold) on the frames of tests/data/oc20_relax and writes their edge sets, both
``enforce_max_neighbors_strictly`` settings, to tests/data/parity/fairchem_edges.npz (+ .json
with the reference commit, settings and command). bench.data.neighbor_rules must reproduce
them edge for edge (tests/unit/data/test_neighbor_rules.py).

    PYTHONPATH=$PWD python3 tools/parity/fairchem_edges.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fairchem_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FRAMES = ROOT / "tests" / "data" / "oc20_relax" / "random1000156.traj"
OUT = ROOT / "tests" / "data" / "parity" / "fairchem_edges"
#: the OC20/OC22 paper presets: cutoff (A) and neighbour cap
CUTOFF, MAX_NEIGHBORS = 12.0, 20
#: frames of the shipped trajectory with a fixture each (the first and the relaxed one)
FRAME_INDICES = (0, 4)
COMMIT = "fairchem_core-1.9.0 (FAIR-Chem/fairchem)"


def reference_edges(
    frames, strict: bool, cutoff: float = CUTOFF, max_neighbors: int = MAX_NEIGHBORS
) -> np.ndarray:
    """[E, 5] int (centre i, neighbour j, S1, S2, S3) of fairchem's graph of a batch of ASE
    frames, in fairchem's order; atom indices are over the concatenated batch."""
    fairchem_env.install()
    import torch
    from fairchem.core.common.utils import radius_graph_pbc

    data = SimpleNamespace(
        pos=torch.tensor(np.concatenate([a.positions for a in frames]), dtype=torch.float32),
        cell=torch.tensor(np.stack([a.cell.array for a in frames]), dtype=torch.float32),
        natoms=torch.tensor([len(a) for a in frames]),
        pbc=torch.tensor(np.stack([a.pbc for a in frames])),
    )
    edge_index, cells, _ = radius_graph_pbc(data, cutoff, max_neighbors, strict)
    images = cells.round().long()
    return torch.cat([edge_index[1:2].T, edge_index[0:1].T, images], dim=1).numpy()


def main() -> None:
    from ase.io import read

    frames = read(FRAMES, ":")
    arrays = {}
    for strict, name in ((True, "strict"), (False, "tolerant")):
        for k in FRAME_INDICES:
            arrays[f"{name}/{k}"] = reference_edges([frames[k]], strict).astype(np.int16)
    arrays["strict/batch"] = reference_edges(frames, True).astype(np.int16)
    np.savez_compressed(OUT.with_suffix(".npz"), **arrays)
    meta = {
        "reference": COMMIT,
        "function": "fairchem.core.common.utils.radius_graph_pbc (float32 pos and cell)",
        "frames": str(FRAMES.relative_to(ROOT)),
        "cutoff": CUTOFF,
        "max_neighbors": MAX_NEIGHBORS,
        "keys": "strict|tolerant (enforce_max_neighbors_strictly True|False) / frame index "
        f"{FRAME_INDICES}, and strict/batch (all 5 frames in one call); rows (i centre, "
        "j neighbour, S1, S2, S3)",
        "command": "PYTHONPATH=$PWD python3 tools/parity/fairchem_edges.py",
    }
    OUT.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
