"""Matrix-multiply FLOPs of one call, counted exactly (no timing noise).

Counts what ``torch.utils.flop_counter`` knows (mm, bmm, addmm, baddbmm, convolutions,
attention kernels; 2 FLOPs per multiply-add), in the forward, the backward and any
double backward (gradient forces), through a plain dispatch mode: torch's FlopCounterMode
tracks modules with hooks that ``torch.autograd.grad`` does not support. Element-wise
operations, gathers and scatters are not counted, so the count is a floor of the work, and the
ratio of two counts is the extra dense compute of one training regime over another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class _MatmulFlops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += int(count(*args, **kwargs, out_val=out))
        return out


def count_flops(run: Callable[[], Any]) -> int:
    """Matrix-multiply FLOPs executed by ``run()`` (forward, backward and double backward)."""
    with _MatmulFlops() as counter:
        run()
    return counter.total
