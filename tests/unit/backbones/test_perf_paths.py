"""Fast paths added for speed and memory must not change results: l <= 1 heads, noise and
direct force heads restricted to their target atoms, SchNet's force encoding restricted to the
edges touching an encoded atom, activation checkpointing, and the training step's masks."""

from __future__ import annotations

import pytest
import torch

from bench import testing
from bench.backbones.base import AtomInputs, HeadRequest, incoming_edges
from bench.backbones.registry import build_backbone
from bench.data import keys
from bench.methods import build_method
from bench.train.step import StepContext, train_step

SO3_NAMES = ("equiformer-v2", "escn")
DENS_NAMES = ("equiformer", "segnn", "schnet", *SO3_NAMES)


def _model(name: str, force_mode: str = "direct", **options):
    torch.manual_seed(0)
    return build_backbone(
        name, "ci", "md17", force_encoding=True, noise_head=True, force_mode=force_mode, **options
    ).double()


def _batch(seed: int = 0):
    batch = testing.make_molecule_batch(3, (5, 8), generator=torch.Generator().manual_seed(seed))
    return testing.with_encoded_forces(batch, batch.forces)


def _request(mask, output: str = keys.OUT_NOISE) -> HeadRequest:
    field = "noise_atoms" if output == keys.OUT_NOISE else "force_atoms"
    return HeadRequest(**{field: mask})


def test_attention_low_degrees_equal_the_full_output():
    model, batch = _model("equiformer-v2").eval(), _batch()
    inputs = AtomInputs.from_batch(batch, batch.pos)
    edges = model._edge_context(batch.z, model.build_graph(inputs))
    x = model._embed(inputs, edges)
    for head in (model.force_head, model.noise_head):
        torch.testing.assert_close(
            head.low_degrees(x, edges), head(x, edges)[:, :4], atol=1e-12, rtol=1e-10
        )


@pytest.mark.parametrize("name", DENS_NAMES)
@pytest.mark.parametrize("output", [keys.OUT_NOISE, keys.OUT_FORCES])
def test_vector_heads_run_only_for_their_target_atoms(name, output):
    """With a target mask, a head's output is exact at the targets and zero elsewhere; the
    other outputs do not change at all."""
    model, batch = _model(name).eval(), _batch(1)
    mask = torch.zeros(batch.num_nodes, dtype=torch.bool)
    mask[[0, 4, batch.num_nodes - 1]] = True
    full, part = model(batch), model(batch, heads=_request(mask, output))
    torch.testing.assert_close(part[output][mask], full[output][mask], atol=1e-12, rtol=1e-10)
    assert part[output][~mask].abs().max() == 0
    for key in {keys.OUT_ENERGY, keys.OUT_FORCES, keys.OUT_NOISE} - {output}:
        torch.testing.assert_close(part[key], full[key], atol=0, rtol=0)


@pytest.mark.parametrize("name", DENS_NAMES)
def test_no_target_atoms_still_give_every_noise_parameter_a_zero_gradient(name):
    model, batch = _model(name).train(), _batch(2)
    empty = torch.zeros(batch.num_nodes, dtype=torch.bool)
    out = model(batch, heads=_request(empty))
    assert out[keys.OUT_NOISE].abs().max() == 0
    sum(v.sum() for v in out.values()).backward()
    grads = [p.grad for p in model.noise_head.parameters()]
    assert all(g is not None and g.abs().max() == 0 for g in grads)  # AdamW still steps them


@pytest.mark.parametrize(
    ("name", "force_mode"), [("equiformer-v2", "gradient"), ("escn", "direct")]
)
def test_checkpointed_blocks_give_the_same_outputs_and_gradients(name, force_mode):
    batch = _batch(3)
    results = []
    for checkpointed in (False, True):
        model = _model(name, force_mode, checkpoint_blocks=checkpointed).train()
        out = model(batch)
        loss = sum(v.square().sum() for v in out.values())
        grads = torch.autograd.grad(loss, list(model.parameters()))
        results.append((out, grads))
    (out_a, grads_a), (out_b, grads_b) = results
    for key in out_a:
        torch.testing.assert_close(out_b[key], out_a[key], atol=1e-12, rtol=1e-10)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-10)


def test_train_step_tells_the_model_which_atoms_are_noise_and_force_targets():
    model = build_backbone("schnet", "ci", "md17", force_encoding=True, noise_head=True).double()
    method = build_method("dens", p_dens=1.0, corrupt_ratio=0.5)
    batch = testing.make_molecule_batch(2, (5, 8), generator=torch.Generator().manual_seed(4))
    seen = []
    model.register_forward_pre_hook(
        lambda _, args, kwargs: seen.append((args, kwargs)), with_kwargs=True
    )
    batch.fixed[0] = True
    fields = set(batch.keys())
    expected = method.prepare(batch, torch.Generator().manual_seed(5))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ctx = StepContext(1.0, 1.0, torch.Generator().manual_seed(5))
    train_step(model, method, batch, optimizer, ctx)
    (forwarded,), kwargs = seen[0]
    heads = kwargs["heads"]
    assert torch.equal(heads.noise_atoms, expected.noise_mask)
    assert expected.noise_mask.any()
    assert torch.equal(heads.force_atoms, ~batch.fixed & ~expected.noise_mask)
    assert not heads.force_atoms[0]  # a fixed atom is never a force target
    assert set(batch.keys()) == fields  # the caller's batch is untouched
    assert set(forwarded.keys()) == fields | {keys.ENCODED_FORCES}  # no mask in the batch


def test_all_target_atoms_keep_the_edges_without_a_copy():
    model, batch = _model("equiformer-v2").eval(), _batch(4)
    edges = model._edge_context(batch.z, model.build_graph(AtomInputs.from_batch(batch, batch.pos)))
    everyone = torch.ones(batch.num_nodes, dtype=torch.bool)
    assert edges.incoming(everyone) is edges and edges.incoming(None) is edges
    some = everyone.clone()
    some[0] = False
    assert edges.incoming(some).src.numel() == int((edges.dst != 0).sum())


def test_incoming_edges_selects_the_edges_into_the_wanted_centres():
    dst = torch.tensor([0, 1, 1, 2, 0])
    wanted = torch.tensor([False, True, False])
    assert incoming_edges(dst, wanted).tolist() == [1, 2]
    assert incoming_edges(dst, torch.ones(3, dtype=torch.bool)) is None
    assert incoming_edges(dst, None) is None
    assert incoming_edges(dst, torch.zeros(3, dtype=torch.bool)).numel() == 0


def test_schnet_encoding_on_the_edges_of_encoded_atoms_equals_every_edge():
    """The encoder's MLP runs only on edges touching an atom with a nonzero force: the result
    equals the MLP on every edge (exact zeros on the others) and its gradients too."""
    model, batch = _model("schnet", "gradient").train(), _batch(5)
    forces = batch.forces.clone()
    forces[1::2] = 0.0  # half the atoms encode nothing, as for the uncorrupted atoms of DeNS
    graph = model.build_graph(AtomInputs.from_batch(batch, batch.pos))
    unit = graph.edge_vec / graph.edge_len.unsqueeze(-1)
    dense = torch.stack(
        [(forces[graph.dst] * unit).sum(-1), -(forces[graph.src] * unit).sum(-1)], dim=-1
    )
    encoder = model.force_encoder
    expected = encoder.mlp(dense)
    got = encoder(forces, graph)
    assert (expected == 0).all(-1).any()  # some edges carry no encoding
    torch.testing.assert_close(got, expected, atol=1e-14, rtol=1e-12)
    params = list(encoder.parameters())
    for a, b in zip(
        torch.autograd.grad(expected.sin().sum(), params),
        torch.autograd.grad(got.sin().sum(), params),
        strict=True,
    ):
        torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-10)
