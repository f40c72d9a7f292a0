"""Pure-torch stand-in for the parts of torch_scatter the reference code imports.

Only for building the authors' code in the parity harness (tools/parity); dens-bench itself
never imports it. Semantics follow torch_scatter: ``out[index[i]] op= src[i]`` along ``dim``,
with ``dim_size`` defaulting to ``index.max() + 1``; empty segments give 0.
"""

from __future__ import annotations

import torch

__all__ = ["scatter", "segment_coo", "segment_csr"]


def _broadcast(index: torch.Tensor, src: torch.Tensor, dim: int) -> torch.Tensor:
    dim = dim % src.dim()
    if index.dim() == 1:
        shape = [1] * src.dim()
        shape[dim] = -1
        index = index.view(shape)
    return index.expand_as(src)


def scatter(src, index, dim=-1, out=None, dim_size=None, reduce="sum"):
    dim = dim % src.dim()
    if dim_size is None:
        dim_size = int(index.max()) + 1 if index.numel() else 0
    shape = list(src.shape)
    shape[dim] = dim_size
    idx = _broadcast(index, src, dim)
    if reduce in ("sum", "add"):
        base = torch.zeros(shape, dtype=src.dtype, device=src.device) if out is None else out
        return base.scatter_add_(dim, idx, src)
    if reduce == "mean":
        total = torch.zeros(shape, dtype=src.dtype, device=src.device).scatter_add_(dim, idx, src)
        count = torch.zeros(shape, dtype=src.dtype, device=src.device).scatter_add_(
            dim, idx, torch.ones_like(src)
        )
        return total / count.clamp(min=1)
    if reduce in ("max", "min", "amax", "amin"):
        mode = "amax" if reduce in ("max", "amax") else "amin"
        base = torch.zeros(shape, dtype=src.dtype, device=src.device)
        return base.scatter_reduce_(dim, idx, src, reduce=mode, include_self=False)
    raise ValueError(f"unsupported reduce {reduce!r}")


def segment_coo(src, index, out=None, dim_size=None, reduce="sum"):
    return scatter(src, index, dim=index.dim() - 1, out=out, dim_size=dim_size, reduce=reduce)


def segment_csr(src, indptr, out=None, reduce="sum"):
    counts = indptr[1:] - indptr[:-1]
    index = torch.repeat_interleave(torch.arange(counts.numel(), device=src.device), counts)
    return scatter(src, index, dim=0, dim_size=counts.numel(), reduce=reduce)
