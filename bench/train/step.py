"""One optimisation step: corrupt (method.prepare), forward, named losses, backward, update.

Data parallel (bench.train.distributed): the model is the DDP wrapper, the logged terms are
their mean over ranks, and a loss that is non-finite on any rank stops every rank at the same
step."""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from bench.data import keys
from bench.train.distributed import World, participation
from methods.base import Method, targets_from_batch


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or inf; ``step`` is the 1-based step that produced it."""

    def __init__(self, step: int, terms: dict[str, float]):
        self.step = step
        super().__init__(f"non-finite loss at step {step} (terms: {terms})")


def autocast(device: torch.device, amp: bool):
    """bf16 autocast of the forward on ``device`` (CUDA or CPU) when ``amp``; a no-op context
    otherwise."""
    if amp:
        return torch.autocast(device.type, dtype=torch.bfloat16)
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
    world: World | None = None,
) -> dict[str, float]:
    """Train on one batch; returns ``{"loss": total, <term>: value, ["grad_norm"]}``.

    Args:
        batch: the ORIGINAL batch (labels in eV, eV/Angstrom), already on the model's device.
        generator: CPU generator driving the method's random corruption.
        progress: step / total_steps in [0, 1] (method schedules).
        energy_std, force_std: normalisation of the loss (eV, eV/Angstrom).
        step: 1-based index of this step (for the divergence message).
        grad_clip: max global gradient norm, or None.
        world: the data-parallel world when ``model`` is DDP-wrapped (None: one process).

    Raises:
        NonFiniteLossError: the loss (on any rank) is NaN or inf; parameters are untouched.
    """
    model.train()
    prepared = method.prepare(batch, generator, progress)
    prepared.batch[keys.NOISE_ATOMS] = prepared.noise_mask  # the noise head's only targets
    prepared.batch[keys.FORCE_ATOMS] = prepared.force_mask  # the direct force head's
    targets = targets_from_batch(batch, energy_std, force_std)
    with autocast(batch.pos.device, amp):
        outputs = model(prepared.batch)
    outputs = {k: v.float() if v.dtype == torch.bfloat16 else v for k, v in outputs.items()}
    terms = method.loss(outputs, prepared, targets, progress)
    total = torch.stack(list(terms.values())).sum()
    result = _logged_values(total, terms, world)
    if not math.isfinite(result["loss"]):
        raise NonFiniteLossError(step, {k: v for k, v in result.items() if k != "loss"})
    optimizer.zero_grad(set_to_none=True)
    if world is not None and world.active:
        total = total + participation(model)
    total.backward()
    if grad_clip is not None:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        result["grad_norm"] = float(norm)
    optimizer.step()
    return result


def _logged_values(total, terms: dict, world: World | None) -> dict[str, float]:
    """``{"loss": total, **terms}`` as floats, averaged over ranks when ``world`` is active
    (one all-reduce of a float64 vector per step)."""
    names = ["loss", *terms]
    values = torch.stack([total.detach(), *(v.detach() for v in terms.values())]).double()
    if world is not None:
        values = world.mean(values)
    return dict(zip(names, values.tolist(), strict=True))
