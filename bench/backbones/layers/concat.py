"""Concatenation for networks trained on gradient forces (double backward).

``torch.cat``'s backward narrows the incoming gradient once per piece, and the backward of
each narrow (taken again when forces are differentiated for the loss) writes its piece into
a zero-filled tensor of the FULL concatenated size: P pieces cost P full-size fills and sums.
:func:`concat` is the same forward whose backward is ``split`` (views), whose own backward is
one ``cat``. Values and gradients are exactly torch.cat's. Without autograd (inference) and
under ``torch.jit.trace`` (bench export), which cannot record a Python autograd Function, it
is plain ``torch.cat``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


class _Concat(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dim: int, *tensors: Tensor) -> Tensor:
        ctx.dim, ctx.sizes = dim, [t.shape[dim] for t in tensors]
        return torch.cat(tensors, dim=dim)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return (None, *grad.split(ctx.sizes, dim=ctx.dim))


def concat(tensors: Sequence[Tensor], dim: int = -1) -> Tensor:
    """``torch.cat(tensors, dim)`` with a split as its backward (see the module docstring)."""
    if len(tensors) == 1:
        return tensors[0]
    if torch.jit.is_tracing() or not torch.is_grad_enabled():
        return torch.cat(list(tensors), dim=dim)
    return _Concat.apply(dim, *tensors)
