"""Each loss term against hand-computed values on a 2-molecule batch, and p_dens = 0 == none."""

from __future__ import annotations

import pytest
import torch

from bench.backbones.registry import build_backbone
from bench.data import keys
from bench.methods import build_method
from bench.methods.base import Prepared, Targets
from bench.testing import make_molecule_batch

# Molecule A: atoms 0-1; molecule B: atoms 2-4 (atom 4 fixed).
# energy_std 2 eV, force_std 0.5 eV/A; lambda_E 2, lambda_F 10.
E_TRUE = torch.tensor([1.0, -2.0], dtype=torch.float64)
E_PRED = torch.tensor([1.4, -1.0], dtype=torch.float64)  # |err| / 2 = 0.2, 0.5
F_TRUE = torch.zeros(5, 3, dtype=torch.float64)
F_PRED = torch.tensor(
    [
        [0.3, 0.4, 0.0],  # |err| 0.5 -> 1 after / force_std
        [0.0, 0.0, 1.0],  # 1 -> 2
        [0.6, 0.8, 0.0],  # 1 -> 2
        [0.0, 0.0, 2.0],  # 2 -> 4
        [1.2, 1.6, 0.0],
    ],  # 2 -> 4 (fixed atom)
    dtype=torch.float64,
)
NOISE_PRED = torch.tensor(
    [[9.0, 9.0, 9.0], [9.0, 9.0, 9.0], [1.0, 3.0, 4.0], [7.0, 7.0, 7.0], [5.0, 5.0, 5.0]],
    dtype=torch.float64,
)
FREE = torch.tensor([True, True, True, True, False])
WEIGHTS = {"lambda_energy": 2.0, "lambda_force": 10.0}


def _targets() -> Targets:
    return Targets(energy=E_TRUE, forces=F_TRUE, energy_std=2.0, force_std=0.5)


def _outputs() -> dict[str, torch.Tensor]:
    return {"energy": E_PRED, "forces": F_PRED, "noise": NOISE_PRED}


def _prepared(
    noise_mask: torch.Tensor, dens_structure: torch.Tensor, force_mask: torch.Tensor | None = None
) -> Prepared:
    """Force targets: ``force_mask``, by default the free atoms not noised (as DeNS's prepare
    gives them)."""
    target = torch.zeros(5, 3, dtype=torch.float64)
    target[2] = torch.tensor([1.0, 0.0, 0.0])  # noise error on atom 2: (0, 3, 4) -> 5
    target[~noise_mask] = 0.0
    return Prepared(
        batch=None,
        noise_target=target,
        noise_mask=noise_mask,
        dens_structure=dens_structure,
        sigma=torch.where(dens_structure, 0.1, 0.0).double(),
        force_mask=FREE & ~noise_mask if force_mask is None else force_mask,
    )


def test_none_terms_by_hand():
    prepared = _prepared(torch.zeros(5, dtype=torch.bool), torch.tensor([False, False]))
    terms = build_method("none", **WEIGHTS).loss(_outputs(), prepared, _targets())
    assert set(terms) == {"energy", "force"}
    assert float(terms["energy"]) == pytest.approx(2.0 * (0.2 + 0.5) / 2)  # 0.7
    assert float(terms["force"]) == pytest.approx(10.0 * (1 + 2 + 2 + 4) / 4)  # 22.5


@pytest.mark.parametrize("name", ["dens", "denoise-no-force"])
def test_dens_terms_by_hand(name):
    """B is a DeNS structure with atom 2 corrupted: forces on atoms 0, 1, 3 (free and
    uncorrupted), noise on atom 2, energy on both structures; lambda_DeNS 4 decays linearly."""
    method = build_method(name, lambda_dens=4.0, lambda_decay="linear", **WEIGHTS)
    mask = torch.tensor([False, False, True, False, False])
    prepared = _prepared(mask, torch.tensor([False, True]))
    terms = method.loss(_outputs(), prepared, _targets(), progress=0.25)
    assert set(terms) == {"energy", "force", "noise"}
    assert float(terms["energy"]) == pytest.approx(0.7)
    assert float(terms["force"]) == pytest.approx(10.0 * (1 + 2 + 4) / 3)
    assert float(terms["noise"]) == pytest.approx(4.0 * 0.75 * 5.0)  # 15
    total = sum(float(v) for v in terms.values())
    assert total == pytest.approx(0.7 + 70 / 3 + 15)


def test_dens_without_original_energy_term_skips_dens_structures():
    method = build_method("dens", dens_energy=False, **WEIGHTS)
    prepared = _prepared(
        torch.tensor([False, False, True, False, False]), torch.tensor([False, True])
    )
    terms = method.loss(_outputs(), prepared, _targets())
    assert float(terms["energy"]) == pytest.approx(2.0 * 0.2)  # structure A only
    assert float(terms["noise"]) == pytest.approx(5.0 * 5.0)  # lambda 5, no decay


def test_noisy_nodes_terms_by_hand():
    """Every free atom is a noise target; forces on every free atom from the noisy input."""
    method = build_method("noisy-nodes", lambda_dens=15.0, lambda_dens_final=1.0, **WEIGHTS)
    prepared = _prepared(FREE.clone(), torch.tensor([True, True]), force_mask=FREE)
    terms = method.loss(_outputs(), prepared, _targets(), progress=0.5)
    noise_errors = [(81 * 3) ** 0.5, (81 * 3) ** 0.5, 5.0, (49 * 3) ** 0.5]
    assert float(terms["energy"]) == pytest.approx(0.7)
    assert float(terms["force"]) == pytest.approx(22.5)
    assert float(terms["noise"]) == pytest.approx(8.0 * sum(noise_errors) / 4)


def test_no_corrupted_atom_gives_a_zero_noise_term_with_a_gradient():
    pred = NOISE_PRED.clone().requires_grad_(True)
    prepared = _prepared(torch.zeros(5, dtype=torch.bool), torch.tensor([True, False]))
    terms = build_method("dens").loss(_outputs() | {"noise": pred}, prepared, _targets())
    assert float(terms["noise"].detach()) == 0.0
    terms["noise"].backward()
    assert torch.count_nonzero(pred.grad) == 0


def test_dens_with_p_zero_gives_the_losses_of_none():
    """Same model (with DeNS heads), same batch: p_dens = 0 corrupts nothing and encodes only
    zeros, so energy and force terms equal those of ``none`` exactly and the noise term is 0."""
    torch.manual_seed(0)
    model = build_backbone("schnet", "ci", "md17", force_encoding=True, noise_head=True).double()
    batch = make_molecule_batch(3, (4, 7), torch.Generator().manual_seed(1))
    batch.energy = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    targets = Targets(batch.energy, batch.forces, 0.7, 0.7)
    none, dens = build_method("none"), build_method("dens", p_dens=0.0)
    p_none = none.prepare(batch, torch.Generator().manual_seed(2))
    p_dens = dens.prepare(batch, torch.Generator().manual_seed(2))
    assert torch.count_nonzero(p_dens.batch[keys.ENCODED_FORCES]) == 0
    out_none, out_dens = model(p_none.batch), model(p_dens.batch)
    a = none.loss(out_none, p_none, targets)
    b = dens.loss(out_dens, p_dens, targets)
    assert torch.equal(a["energy"], b["energy"]) and torch.equal(a["force"], b["force"])
    assert float(b["noise"].detach()) == 0.0


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("none", {}),
        ("noisy-nodes", {}),
        ("dens", {"p_dens": 1.0, "corrupt_ratio": 0.5}),
        ("denoise-no-force", {"p_dens": 1.0}),
    ],
)
def test_prepare_gives_the_force_targets_each_method_defines(name, params):
    """Force targets: free atoms for none and noisy-nodes (forces of the noisy input); free
    atoms NOT noised for DeNS, where a corrupted atom's force is an input, not a target."""
    batch = make_molecule_batch(3, (5, 8), torch.Generator().manual_seed(4))
    batch.fixed[::4] = True
    prepared = build_method(name, **params).prepare(batch, torch.Generator().manual_seed(5))
    free = ~batch.fixed
    if name in ("none", "noisy-nodes"):
        assert torch.equal(prepared.force_mask, free)
    else:
        assert prepared.noise_mask.any() and (free & ~prepared.noise_mask).any()
        assert torch.equal(prepared.force_mask, free & ~prepared.noise_mask)
