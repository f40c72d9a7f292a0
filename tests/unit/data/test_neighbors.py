"""vesin's pair search (bench.data.neighbors) against the former all-pairs search, edge for edge.

``_all_pairs`` below is the pure-torch O(N^2 x images) search that bench.data.graphs used
before vesin, kept here as the reference: same edges, same shifts, same order, so the
neighbour cap (whose ties follow edge order) selects the same edges.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data.ase_files import read_ase_file
from bench.data.graphs import _cap_neighbors, build_graph, periodic_radius_graph
from bench.data.neighbors import neighbor_pairs
from bench.data.paths import default_data_root

OC20_RELAX = default_data_root() / "oc20_relax"  # the 24 real trajectories ($DENS_BENCH_DATA)


def _all_pairs(pos, cell, pbc, cutoff):
    """(src, dst, shift in Angstrom) of one structure, in the former search's order."""
    if not bool(pbc.any()):
        d = torch.cdist(pos, pos, compute_mode="donot_use_mm_for_euclid_dist")
        m = d < cutoff
        m.fill_diagonal_(False)
        dst, src = m.nonzero(as_tuple=True)
        return src, dst, pos.new_zeros(len(src), 3)
    wrap = torch.floor(pos @ torch.linalg.inv(cell)) * pbc.to(pos.dtype)
    wrapped = pos - wrap @ cell
    spacing = torch.linalg.det(cell).abs() / torch.linalg.cross(
        cell[[1, 2, 0]], cell[[2, 0, 1]]
    ).norm(dim=1)
    reach = torch.ceil(cutoff / spacing).long() * pbc.long()
    images = torch.cartesian_prod(*[torch.arange(-r, r + 1) for r in reach.tolist()])
    images = images.to(pos.dtype)
    shifted = wrapped.unsqueeze(0) + (images @ cell).unsqueeze(1)
    n = len(pos)
    d = torch.cdist(
        wrapped.expand(len(images), n, 3), shifted, compute_mode="donot_use_mm_for_euclid_dist"
    )
    mask = d < cutoff
    mask[(images == 0).all(dim=1)] &= ~torch.eye(n, dtype=torch.bool)
    m, dst, src = mask.nonzero(as_tuple=True)
    return src, dst, (images[m] - wrap[src] + wrap[dst]) @ cell


def _reference_graph(pos, cell, pbc, cutoff, cap):
    src, dst, shift = _all_pairs(pos, cell, pbc, cutoff)
    if cap is not None:
        keep = _cap_neighbors(dst, (pos[src] - pos[dst] + shift).norm(dim=-1), cap)
        src, dst, shift = src[keep], dst[keep], shift[keep]
    return torch.stack([src, dst]), shift


def _vesin_graph(pos, batch, cutoff, cap, cell, pbc):
    """The periodic path (vesin) on any structure, molecules included."""
    return periodic_radius_graph(pos, batch, cell, pbc, cutoff, cap)


def _assert_as_before(s, cutoff, cap, dtype=torch.float64, graph=build_graph):
    pos = torch.tensor(s.pos, dtype=dtype)
    cell = (
        torch.tensor(s.cell, dtype=dtype) if s.cell is not None else torch.zeros(3, 3, dtype=dtype)
    )
    pbc = torch.tensor(s.pbc) if s.pbc is not None else torch.zeros(3, dtype=torch.bool)
    batch = torch.zeros(len(pos), dtype=torch.long)
    edges, shift = graph(pos, batch, cutoff, cap, cell[None], pbc[None])
    ref_edges, ref_shift = _reference_graph(pos, cell, pbc, cutoff, cap)
    assert edges.shape[1] > 0
    assert torch.equal(edges, ref_edges), f"{s.id}: edges differ at cutoff {cutoff}, cap {cap}"
    torch.testing.assert_close(
        shift, ref_shift, rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-5
    )


@pytest.mark.parametrize(("cutoff", "cap"), [(6.0, None), (12.0, 20), (12.0, None)])
def test_shipped_oc20_frames_as_before(oc20_frames, cutoff, cap):
    for s in oc20_frames:
        _assert_as_before(s, cutoff, cap)
    _assert_as_before(oc20_frames[0], cutoff, cap, torch.float32)


def test_shipped_molecules_as_before(data_dir):
    from bench.data.structure import Structure

    for name in ("aspirin", "ethanol"):
        d = np.load(data_dir / "rmd17" / f"rmd17_{name}_train_01.npz")
        for frame in (0, 7):
            s = Structure(
                z=d["nuclear_charges"],
                pos=d["coords"][frame],
                energy=0.0,
                forces=np.zeros_like(d["coords"][frame]),
                id=f"{name}:{frame}",
            )
            _assert_as_before(s, 5.0, None)
            _assert_as_before(s, 3.0, 6)
            _assert_as_before(s, 3.0, 6, graph=_vesin_graph)  # vesin, as in a mixed batch


@pytest.mark.skipif(not OC20_RELAX.is_dir(), reason=f"{OC20_RELAX} absent")
def test_all_oc20_relax_trajectories_as_before():
    files = sorted(OC20_RELAX.glob("*.traj"))
    assert len(files) == 24
    for path in files:
        frames = read_ase_file(path)
        for s in (frames[0], frames[-1]):
            _assert_as_before(s, 12.0, 20)
            _assert_as_before(s, 6.0, None)


def test_pairs_cover_both_directions_and_self_images():
    cell = np.eye(3) * 2.5  # one atom: its only neighbours are its images
    i, j, shift, dist = neighbor_pairs(np.zeros((1, 3)), 2.6, cell, np.ones(3, dtype=bool))
    assert i.dtype == shift.dtype == np.int64 and dist.dtype == np.float64
    assert sorted(map(tuple, shift.tolist())) == sorted(
        [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
    )
    np.testing.assert_allclose(dist, np.full(6, 2.5))
    pos = np.array([[0.0, 0, 0], [1.5, 0, 0]])
    assert len(neighbor_pairs(pos, 1.5)[0]) == 0  # |r| < cutoff, strictly
    i, j, _, _ = neighbor_pairs(pos, 1.6)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (1, 0)]


@pytest.mark.parametrize(
    ("cell", "pbc", "match"),
    [
        (None, [True, False, False], "without a cell"),
        (np.zeros((3, 3)), [True, True, True], "singular cell"),
    ],
)
def test_bad_periodic_input_is_refused(cell, pbc, match):
    with pytest.raises(ValueError, match=match):
        neighbor_pairs(np.zeros((2, 3)), 3.0, cell, np.array(pbc))


def test_forces_through_a_fixed_graph_match_finite_differences(oc20_frames):
    """Graphs come from detached positions; edge vectors recomputed from ``pos`` carry the
    gradient (as Backbone.build_graph does): -dE/dpos equals central differences."""
    s = oc20_frames[0]
    cell = torch.tensor(s.cell)[None]
    pbc = torch.ones(1, 3, dtype=torch.bool)
    batch = torch.zeros(s.n_atoms, dtype=torch.long)

    def energy(pos):
        edges, shift = build_graph(pos.detach(), batch, 6.0, None, cell, pbc)
        r = (pos[edges[0]] - pos[edges[1]] + shift).norm(dim=-1)
        return (torch.exp(-r) * torch.cos(np.pi * r / 12.0)).sum()  # smooth, zero slope at 6 A

    pos = torch.tensor(s.pos, requires_grad=True)
    (grad,) = torch.autograd.grad(energy(pos), pos)
    assert grad.abs().max() > 1e-3
    h = 1e-5
    for atom, axis in ((0, 0), (17, 2), (48, 1)):
        step = torch.zeros_like(pos)
        step[atom, axis] = h
        fd = (energy(pos.detach() + step) - energy(pos.detach() - step)) / (2 * h)
        torch.testing.assert_close(grad[atom, axis], fd, rtol=1e-6, atol=1e-8)
