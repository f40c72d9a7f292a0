"""bench.backbones.layers.concat and the layers built on it: same values and derivatives as
torch.cat / the gathered head weights, and no full-size zero fill per piece in the double
backward that gradient forces take."""

from __future__ import annotations

import torch
from e3nn import o3
from torch.utils._python_dispatch import TorchDispatchMode

from bench.backbones.layers.attention import GraphAttention
from bench.backbones.layers.concat import concat

#: ops making a zero-filled tensor (slice_backward: zeros of the full size, one piece copied in)
ZERO_FILLS = {torch.ops.aten.slice_backward.default, torch.ops.aten.zeros.default}
ZERO_FILLS |= {torch.ops.aten.new_zeros.default, torch.ops.aten.zero_.default}


class FullSizeFills(TorchDispatchMode):
    """Counts zero-filled tensors of ``shape`` made while active."""

    def __init__(self, shape):
        super().__init__()
        self.shape, self.count = tuple(shape), 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in ZERO_FILLS and isinstance(out, torch.Tensor) and tuple(out.shape) == self.shape:
            self.count += 1
        return out


def _second_order(cat, pieces):
    """d/d(pieces) of |d(f)/d(pieces)|^2 with f = sum(sin(cat(pieces)))."""
    out = cat(pieces, dim=-1).sin().sum()
    grads = torch.autograd.grad(out, pieces, create_graph=True)
    return torch.autograd.grad(sum(g.square().sum() for g in grads), pieces)


def test_concat_equals_torch_cat_to_second_order():
    torch.manual_seed(0)
    pieces = [torch.randn(5, k, dtype=torch.float64, requires_grad=True) for k in (3, 1, 4)]
    assert torch.equal(concat(pieces, dim=-1), torch.cat(pieces, dim=-1))
    second = _second_order(concat, pieces), _second_order(torch.cat, pieces)
    assert all(torch.equal(a, b) for a, b in zip(*second, strict=True))
    assert torch.autograd.gradgradcheck(lambda *p: concat(p, dim=-1), pieces)
    single = pieces[:1]
    assert concat(single) is single[0]


def test_double_backward_of_concat_fills_no_full_size_tensor_per_piece():
    pieces = [torch.randn(64, 8, requires_grad=True) for _ in range(6)]
    counts = {}
    for name, cat in (("torch.cat", torch.cat), ("concat", concat)):
        with FullSizeFills((64, 48)) as mode:
            _second_order(cat, pieces)
        counts[name] = mode.count
    assert counts["torch.cat"] >= len(pieces)  # the cost concat removes
    assert counts["concat"] == 0


def test_attention_head_weights_equal_the_gathered_form():
    torch.manual_seed(0)
    heads = 2
    attn = GraphAttention(
        irreps_in="4x0e+2x1e",
        irreps_out="4x0e+2x1e",
        irreps_sh="1x0e+1x1e",
        irreps_pre="4x0e+2x1e",
        irreps_head="2x0e+1x1e",
        num_heads=heads,
        radial_sizes=[4, 8],
    )
    full = o3.Irreps([(mul * heads, ir) for mul, ir in o3.Irreps("2x0e+1x1e")])
    index = [c // (mul // heads) for mul, ir in full for c in range(mul) for _ in range(ir.dim)]
    value = torch.randn(7, full.dim, dtype=torch.float64)
    weight = torch.rand(7, heads, dtype=torch.float64)
    assert torch.equal(attn._weigh(value, weight), value * weight[:, index])
