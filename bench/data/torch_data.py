"""Structure -> torch_geometric Data (fields of bench.data.keys) and batching."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from bench.data.structure import Structure


def to_data(s: Structure, dtype: torch.dtype = torch.float32) -> Data:
    """One structure as a PyG ``Data``. Molecules get a zero cell and pbc all False."""
    n = s.n_atoms
    cell = np.zeros((3, 3)) if s.cell is None else s.cell
    pbc = np.zeros(3, dtype=bool) if s.pbc is None else s.pbc
    fixed = np.zeros(n, dtype=bool) if s.fixed is None else s.fixed
    tags = np.zeros(n, dtype=np.int64) if s.tags is None else s.tags
    return Data(
        z=torch.as_tensor(s.z, dtype=torch.long),
        pos=torch.as_tensor(s.pos, dtype=dtype),
        energy=torch.tensor([s.energy], dtype=torch.float64),  # float64: see Backbone
        forces=torch.as_tensor(s.forces, dtype=dtype),
        fixed=torch.as_tensor(fixed, dtype=torch.bool),
        tags=torch.as_tensor(tags, dtype=torch.long),
        cell=torch.as_tensor(cell, dtype=dtype).reshape(1, 3, 3),
        pbc=torch.as_tensor(pbc, dtype=torch.bool).reshape(1, 3),
        natoms=torch.tensor([n], dtype=torch.long),
        sid=s.id,
        num_nodes=n,
    )


def collate(structures: Sequence[Structure], dtype: torch.dtype = torch.float32) -> Batch:
    """A list of structures as one PyG ``Batch``."""
    return Batch.from_data_list([to_data(s, dtype) for s in structures])
