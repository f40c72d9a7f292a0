import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from bench.data.graphs import build_graph, periodic_radius_graph, radius_graph


def _edges(atoms: Atoms, cutoff: float, max_neighbors=None):
    """(i, j, S) triples of our graph for one ASE structure, float64."""
    pos = torch.tensor(atoms.positions)
    batch = torch.zeros(len(atoms), dtype=torch.long)
    cell = torch.tensor(atoms.cell.array).reshape(1, 3, 3)
    pbc = torch.tensor(atoms.pbc).reshape(1, 3)
    ei, shift = build_graph(pos, batch, cutoff, max_neighbors, cell, pbc)
    vec = pos[ei[0]] - pos[ei[1]] + shift
    if atoms.pbc.any():
        s = np.rint(shift.numpy() @ np.linalg.inv(atoms.cell.array)).astype(int)
    else:
        s = np.zeros((ei.shape[1], 3), dtype=int)
    triples = list(zip(ei[1].tolist(), ei[0].tolist(), map(tuple, s.tolist()), strict=True))
    return triples, vec.numpy()


def _ase_edges(atoms: Atoms, cutoff: float):
    i, j, s, d = neighbor_list("ijSD", atoms, cutoff)
    return list(zip(i.tolist(), j.tolist(), map(tuple, s.tolist()), strict=True)), d


def _assert_same_as_ase(atoms, cutoff):
    ours, vec = _edges(atoms, cutoff)
    ref, d = _ase_edges(atoms, cutoff)
    assert len(ours) == len(set(ours))
    assert set(ours) == set(ref)
    # edge_vec = pos[src] - pos[dst] + shift is ASE's D = pos[j] - pos[i] + S @ cell
    order = {t: k for k, t in enumerate(ref)}
    np.testing.assert_allclose(vec, d[[order[t] for t in ours]], atol=1e-9)


@pytest.mark.parametrize("cutoff", [6.0, 12.0])
def test_periodic_graph_matches_ase_on_oc20(oc20_frames, cutoff):
    for s in oc20_frames[:2]:
        atoms = Atoms(numbers=s.z, positions=s.pos, cell=s.cell, pbc=s.pbc)
        _assert_same_as_ase(atoms, cutoff)


def test_small_and_skewed_cells_need_many_images():
    """Cutoff far beyond the cell: the minimum image alone would miss almost every edge."""
    cu = bulk("Cu", "fcc", a=3.6)  # one atom, skewed primitive cell
    cu.rattle(0.05, seed=1)
    cu.positions += [7.3, -4.1, 2.2]  # positions outside the cell
    _assert_same_as_ase(cu, 8.0)
    slab = bulk("Cu", "fcc", a=3.6) * (2, 1, 1)
    slab.pbc = [True, True, False]
    slab.rattle(0.1, seed=2)
    _assert_same_as_ase(slab, 6.0)


def test_molecular_graph_matches_ase(data_dir):
    d = np.load(data_dir / "rmd17" / "rmd17_aspirin_train_01.npz")
    atoms = Atoms(numbers=d["nuclear_charges"], positions=d["coords"][0])
    _assert_same_as_ase(atoms, 5.0)


def test_max_neighbors_keeps_the_nearest(oc20_frames):
    s = oc20_frames[0]
    pos, cell = torch.tensor(s.pos), torch.tensor(s.cell).reshape(1, 3, 3)
    batch, pbc = torch.zeros(s.n_atoms, dtype=torch.long), torch.ones(1, 3, dtype=torch.bool)
    full, fshift = periodic_radius_graph(pos, batch, cell, pbc, 12.0)
    capped, cshift = periodic_radius_graph(pos, batch, cell, pbc, 12.0, max_neighbors=20)
    assert torch.bincount(capped[1]).max() == 20
    fdist = (pos[full[0]] - pos[full[1]] + fshift).norm(dim=1)
    cdist = (pos[capped[0]] - pos[capped[1]] + cshift).norm(dim=1)
    for i in range(s.n_atoms):
        kth = fdist[full[1] == i].sort().values[19]
        assert torch.allclose(cdist[capped[1] == i].max(), kth)


def test_batches_offset_indices_and_mix_molecules(oc20_frames, data_dir):
    s = oc20_frames[0]
    mol = np.load(data_dir / "rmd17" / "rmd17_ethanol_train_01.npz")["coords"][0]
    pos = torch.tensor(np.concatenate([mol, s.pos]))
    batch = torch.tensor([0] * 9 + [1] * s.n_atoms)
    cell = torch.stack([torch.zeros(3, 3, dtype=torch.float64), torch.tensor(s.cell)])
    pbc = torch.tensor([[False] * 3, [True] * 3])
    ei, shift = build_graph(pos, batch, 6.0, None, cell, pbc)
    assert torch.equal(batch[ei[0]], batch[ei[1]])
    mol_edges = ei[:, batch[ei[1]] == 0]
    ref, _ = radius_graph(pos[:9], torch.zeros(9, dtype=torch.long), 6.0)
    assert set(map(tuple, mol_edges.T.tolist())) == set(map(tuple, ref.T.tolist()))
    assert shift[batch[ei[1]] == 0].abs().max() == 0
    single, _ = periodic_radius_graph(pos[9:], batch[9:] - 1, cell[1:], pbc[1:], 6.0)
    assert (ei[:, batch[ei[1]] == 1] - 9).shape == single.shape
