"""One optimisation step: corrupt (method.prepare), forward, named losses, backward, update."""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from methods.base import Method, targets_from_batch


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or inf; ``step`` is the 1-based step that produced it."""

    def __init__(self, step: int, terms: dict[str, float]):
        self.step = step
        super().__init__(f"non-finite loss at step {step} (terms: {terms})")


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when ``amp``; a no-op context otherwise."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(
    model: nn.Module,
    method: Method,
    batch,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    progress: float,
    energy_std: float,
    force_std: float,
    step: int,
    grad_clip: float | None = None,
    amp: bool = False,
) -> dict[str, float]:
    """Train on one batch; returns ``{"loss": total, <term>: value, ["grad_norm"]}``.

    Args:
        batch: the ORIGINAL batch (labels in eV, eV/Angstrom), already on the model's device.
        generator: CPU generator driving the method's random corruption.
        progress: step / total_steps in [0, 1] (method schedules).
        energy_std, force_std: normalisation of the loss (eV, eV/Angstrom).
        step: 1-based index of this step (for the divergence message).
        grad_clip: max global gradient norm, or None.

    Raises:
        NonFiniteLossError: the loss is NaN or inf (parameters are left untouched).
    """
    model.train()
    prepared = method.prepare(batch, generator, progress)
    targets = targets_from_batch(batch, energy_std, force_std)
    with autocast(batch.pos.device, amp):
        outputs = model(prepared.batch)
    outputs = {k: v.float() if v.dtype == torch.bfloat16 else v for k, v in outputs.items()}
    terms = method.loss(outputs, prepared, targets, progress)
    total = torch.stack(list(terms.values())).sum()
    values = {k: float(v.detach()) for k, v in terms.items()}
    if not math.isfinite(float(total.detach())):
        raise NonFiniteLossError(step, values)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    result = {"loss": float(total.detach()), **values}
    if grad_clip is not None:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        result["grad_norm"] = float(norm)
    optimizer.step()
    return result
