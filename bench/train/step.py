"""One optimisation step: corrupt (method.prepare), forward, named losses, backward, update.

Data parallel (bench.train.distributed): the model is the DDP wrapper, the logged terms are
their mean over ranks, and a loss that is non-finite on any rank stops every rank at the same
step."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from bench.methods.base import Method, targets_from_batch
from bench.train.distributed import World, participation


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


@dataclass(frozen=True)
class StepContext:
    """Everything one training step needs besides the model, method, batch and optimiser.

    Attributes:
        energy_std, force_std: normalisation of the loss (eV, eV/Angstrom).
        generator: CPU generator driving the method's random corruption.
        progress: step / total_steps in [0, 1] (method schedules, in the loss).
        step: 1-based index of this step (for the divergence message).
        grad_clip: max global gradient norm, or None.
        amp: bf16 autocast of the forward.
        world: the data-parallel world when the model is DDP-wrapped (None: one process).
    """

    energy_std: float
    force_std: float
    generator: torch.Generator
    progress: float = 0.0
    step: int = 1
    grad_clip: float | None = None
    amp: bool = False
    world: World | None = None

    def at(self, step: int, progress: float) -> StepContext:
        """This context at 1-based ``step`` and ``progress``."""
        return replace(self, step=step, progress=progress)


def train_step(
    model: nn.Module, method: Method, batch, optimizer: torch.optim.Optimizer, ctx: StepContext
) -> dict[str, float]:
    """Train on the ORIGINAL ``batch`` (labels in eV, eV/Angstrom, on the model's device);
    returns ``{"loss": total, <term>: value, ["grad_norm"]}``.

    Raises:
        NonFiniteLossError: the loss (on any rank) is NaN or inf; parameters are untouched.
    """
    model.train()
    prepared = method.prepare(batch, ctx.generator)
    targets = targets_from_batch(batch, ctx.energy_std, ctx.force_std)
    with autocast(batch.pos.device, ctx.amp):
        outputs = model(prepared.batch, heads=prepared.heads)
    outputs = {k: v.float() if v.dtype == torch.bfloat16 else v for k, v in outputs.items()}
    terms = method.loss(outputs, prepared, targets, ctx.progress)
    total = torch.stack(list(terms.values())).sum()
    result = _logged_values(total, terms, ctx.world)
    if not math.isfinite(result["loss"]):
        raise NonFiniteLossError(ctx.step, {k: v for k, v in result.items() if k != "loss"})
    optimizer.zero_grad(set_to_none=True)
    if ctx.world is not None and ctx.world.active:
        total = total + participation(model)
    total.backward()
    if ctx.grad_clip is not None:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), ctx.grad_clip)
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
