"""SchNet specifics: PyG parity (parameters and energies) and the DeNS edge extension.

Symmetry and gradient checks live in test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn.models import SchNet as PygSchNet

from bench import testing
from bench.backbones.registry import build_backbone
from bench.backbones.schnet import SchNet
from bench.data import keys
from bench.data.structure import Structure
from bench.data.torch_data import collate

PAPER = {"hidden_channels": 128, "num_filters": 128, "num_interactions": 6, "num_gaussians": 50}
PYG_PARAMS = 455_809  # PyG SchNet(**PAPER); also listed in the DeNS spec's reference facts
# Hand count of the DeNS additions at 128/128/50: encoder 2*128 + 128*50 = 6,656; edge vector
# head: filter (50*128+128) + (128*128+128) = 23,040, centre 128*128+128 = 16,512,
# neighbour 128*128 = 16,384, weight 128+1 = 129, so 56,065.
ENCODER, HEAD = 6_656, 56_065


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_paper_preset_matches_pyg_parameter_count():
    assert _count(PygSchNet(**PAPER)) == PYG_PARAMS
    assert _count(build_backbone("schnet", "paper", "md17")) == PYG_PARAMS


@pytest.mark.parametrize(
    ("dataset", "dens", "expected"),
    [
        ("md17", True, PYG_PARAMS + ENCODER + HEAD),
        ("oc20", False, PYG_PARAMS + HEAD),
        ("oc20", True, PYG_PARAMS + ENCODER + 2 * HEAD),
        ("oc22", True, PYG_PARAMS + ENCODER + 2 * HEAD),
    ],
)
def test_paper_preset_extension_parameter_counts(dataset, dens, expected):
    assert (
        _count(build_backbone("schnet", "paper", dataset, force_encoding=dens, noise_head=dens))
        == expected
    )


def test_energies_equal_pyg_schnet_with_copied_weights():
    torch.manual_seed(0)
    cfg = {"hidden_channels": 16, "num_filters": 12, "num_interactions": 2, "num_gaussians": 10}
    ref = PygSchNet(**cfg, cutoff=5.0, interaction_graph=_full_graph).double()
    ours = SchNet(**cfg, cutoff=5.0).double()
    state = {
        k.replace("lin1", "energy_head.0").replace("lin2", "energy_head.2")
        if k.startswith("lin")
        else k: v
        for k, v in ref.state_dict().items()
    }
    ours.load_state_dict(state, strict=False)
    assert _count(ours) == _count(ref)
    batch = testing.make_molecule_batch(2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ref(batch.z, batch.pos, batch.batch).squeeze(-1)
    torch.testing.assert_close(ours(batch)[keys.OUT_ENERGY], expected)


def _full_graph(pos, batch):
    """All intra-structure pairs (every test molecule fits inside the 5 A cutoff)."""
    same = batch[:, None] == batch[None, :]
    src, dst = (same & ~torch.eye(len(batch), dtype=torch.bool)).nonzero(as_tuple=True)
    edge_index = torch.stack([src, dst])
    return edge_index, (pos[src] - pos[dst]).norm(dim=-1)


def _diatomic(forces: list[list[float]]):
    pos = np.array([[0.0, 0.0, 0.0], [1.1, 0.4, -0.3]])
    s = Structure(z=np.array([6, 8]), pos=pos, energy=0.0, forces=np.asarray(forces), id="co")
    return collate([s], torch.float64)


def test_forces_perpendicular_to_every_bond_are_invisible():
    # Diatomic: f . r_ij = 0 for both atoms, so the encoding is exactly zero.
    model = build_backbone("schnet", "ci", "md17", force_encoding=True, noise_head=True).double()
    bond = np.array([1.1, 0.4, -0.3])
    perp = np.cross(bond, [0.0, 0.0, 1.0])
    batch = _diatomic([perp.tolist(), (-2.0 * perp).tolist()])
    plain = model(batch)
    encoded = model(testing.with_encoded_forces(batch, batch.forces))
    along = model(testing.with_encoded_forces(batch, torch.tensor(np.stack([bond, bond]))))
    torch.testing.assert_close(
        encoded[keys.OUT_ENERGY], plain[keys.OUT_ENERGY], atol=1e-12, rtol=0.0
    )
    assert not torch.allclose(along[keys.OUT_ENERGY], plain[keys.OUT_ENERGY])


@pytest.mark.parametrize("key", [keys.OUT_FORCES, keys.OUT_NOISE])
def test_edge_vector_heads_point_along_the_bond_of_a_diatomic(key):
    model = build_backbone("schnet", "ci", "oc20", force_encoding=True, noise_head=True).double()
    batch = _diatomic([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    vec = model(batch)[key]
    bond = batch.pos[1] - batch.pos[0]
    assert vec.norm(dim=-1).min() > 0
    torch.testing.assert_close(
        torch.linalg.cross(vec, bond.expand_as(vec)), torch.zeros_like(vec), atol=1e-12, rtol=0.0
    )


def test_isolated_atom_has_zero_forces_and_noise():
    model = build_backbone("schnet", "ci", "oc20", force_encoding=True, noise_head=True).double()
    s = Structure(
        z=np.array([8]), pos=np.zeros((1, 3)), energy=0.0, forces=np.zeros((1, 3)), id="o"
    )
    out = model(collate([s], torch.float64))
    assert torch.isfinite(out[keys.OUT_ENERGY]).all()
    assert torch.equal(out[keys.OUT_FORCES], torch.zeros(1, 3, dtype=torch.float64))
    assert torch.equal(out[keys.OUT_NOISE], torch.zeros(1, 3, dtype=torch.float64))


@pytest.mark.parametrize(
    "bad",
    [
        {"hidden_channels": 1},
        {"num_interactions": 0},
        {"num_gaussians": 1},
        {"cutoff": -1.0},
        {"force_mode": "learned"},
    ],
)
def test_constructor_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match=repr(next(iter(bad.values())))):
        SchNet(**bad)
