"""Optimiser groups, schedule values, EMA, checkpoints and batch order, each checked exactly."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench.train.batches import EpochBatches, derived_seed
from bench.train.checkpoint import list_checkpoints, load_latest, save_checkpoint
from bench.train.ema import EMA
from bench.train.optim import build_optimizer, param_groups
from bench.train.schedule import WarmupCosine


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)
        self.out = nn.Linear(4, 1, bias=False)


def test_no_weight_decay_on_biases_and_norms():
    net = _Net()
    decay, no_decay = param_groups(net, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    ids = {id(p) for p in decay["params"]}
    assert ids == {id(net.lin.weight), id(net.out.weight)}
    assert {id(p) for p in no_decay["params"]} == {
        id(net.lin.bias),
        id(net.norm.weight),
        id(net.norm.bias),
    }
    opt = build_optimizer(net, 1e-3, 0.1)
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["lr"] == 1e-3


def test_weight_decay_touches_only_the_decayed_group():
    """With zero gradients, AdamW changes a parameter only through weight decay."""
    net = _Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = build_optimizer(net, 0.1, 0.5)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = net.state_dict()
    torch.testing.assert_close(after["lin.weight"], before["lin.weight"] * (1 - 0.1 * 0.5))
    for key in ("lin.bias", "norm.weight", "norm.bias"):
        assert torch.equal(after[key], before[key]), key


def test_warmup_cosine_by_hand_per_epoch_and_per_step():
    s = WarmupCosine(lr=1.0, warmup_lr=0.1, min_lr=0.0, warmup=2, total=10, steps_per_epoch=4)
    assert s.lr_at(0) == pytest.approx(0.1)
    assert s.lr_at(3) == pytest.approx(0.1)  # whole epochs: constant within epoch 0
    assert s.lr_at(4) == pytest.approx(0.55)  # t = 1: 0.1 + 0.9 / 2
    assert s.lr_at(8) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 10)))
    assert s.lr_at(39) == pytest.approx(0.5 * (1 + math.cos(math.pi * 9 / 10)))
    f = WarmupCosine(1.0, 0.2, 0.01, warmup=0.5, total=2, steps_per_epoch=4, unit="step")
    assert f.lr_at(1) == pytest.approx(0.2 + 0.8 * 0.25 / 0.5)  # t = 0.25
    assert f.lr_at(6) == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 1.5 / 2)))
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=5.0)
    assert f.apply(opt, 6) == opt.param_groups[0]["lr"]


def test_ema_update_and_swap():
    net = nn.Linear(2, 1)
    ema = EMA(net, decay=0.9)
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    expected = 0.9 * start + 0.1 * (start + 1.0)
    torch.testing.assert_close(ema.shadow["weight"], expected)
    with ema.applied(net):
        torch.testing.assert_close(net.weight.detach(), expected)
    torch.testing.assert_close(net.weight.detach(), start + 1.0)


def test_checkpoints_keep_the_newest_and_fall_back_past_a_corrupt_one(tmp_path):
    for step in (5, 10, 15):
        save_checkpoint(tmp_path, step, {"step": step, "w": torch.full((2,), float(step))}, 2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "step-000000010.pt",
        "step-000000015.pt",
    ]
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left behind
    path, state = load_latest(tmp_path)
    assert state["step"] == 15
    path.write_bytes(path.read_bytes()[:40])  # truncate the newest
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        _, state = load_latest(tmp_path)
    assert state["step"] == 10
    assert load_latest(tmp_path / "missing") is None


def test_epoch_batches_are_permutations_fixed_by_seed_and_epoch():
    data = list(range(10))  # any sequence works for the order
    a = EpochBatches(data, 3, seed=7, drop_last=True)
    b = EpochBatches(data, 3, seed=7, drop_last=False)
    assert len(a) == 3 and len(b) == 4
    assert sorted(a.order(0).tolist()) == list(range(10))
    assert torch.equal(a.order(4), b.order(4))
    assert not torch.equal(a.order(0), a.order(1))
    assert not torch.equal(a.order(0), EpochBatches(data, 3, seed=8).order(0))
    assert derived_seed(1, 0, 2) == derived_seed(1, 0, 2) != derived_seed(1, 1, 2)
