"""Learning rate: linear warm-up then cosine decay, a pure function of the global step."""

from __future__ import annotations

import math

import torch


class WarmupCosine:
    """``lr(t)`` with ``t`` in epochs (``unit="epoch"``: whole epochs, timm; ``"step"``:
    fractional epochs ``step / steps_per_epoch``, fairchem):

        t <  warmup: warmup_lr + (lr - warmup_lr) * t / warmup
        t >= warmup: min_lr + (lr - min_lr) * (1 + cos(pi * t / total)) / 2

    (both libraries evaluate the cosine at ``t``, not ``t - warmup``). Stateless apart from
    the last step applied, so resuming at step k gives exactly the lr of step k.

    Args:
        lr, warmup_lr, min_lr: learning rates (absolute). warmup, total: epochs (total > 0).
        steps_per_epoch: optimiser steps per epoch (>= 1). unit: ``"epoch"`` or ``"step"``.
    """

    def __init__(
        self,
        lr: float,
        warmup_lr: float,
        min_lr: float,
        warmup: float,
        total: float,
        steps_per_epoch: int,
        unit: str = "epoch",
    ) -> None:
        if unit not in ("epoch", "step"):
            raise ValueError(f"unit must be 'epoch' or 'step', got {unit!r}")
        if total <= 0 or warmup < 0 or steps_per_epoch < 1:
            raise ValueError(
                f"need total > 0, warmup >= 0, steps_per_epoch >= 1, got "
                f"{total!r}, {warmup!r}, {steps_per_epoch!r}"
            )
        self.lr, self.warmup_lr, self.min_lr = lr, warmup_lr, min_lr
        self.warmup, self.total = warmup, total
        self.steps_per_epoch, self.unit = steps_per_epoch, unit
        self.last_step = -1

    def lr_at(self, step: int) -> float:
        """The learning rate used for optimiser step ``step`` (0-based)."""
        if self.unit == "epoch":
            t = float(step // self.steps_per_epoch)
        else:
            t = step / self.steps_per_epoch
        if t < self.warmup:
            return self.warmup_lr + (self.lr - self.warmup_lr) * t / self.warmup
        cosine = 1.0 + math.cos(math.pi * t / self.total)
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * cosine

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every parameter group's lr for ``step``; returns it."""
        lr = self.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        self.last_step = step
        return lr

    def state_dict(self) -> dict:
        return {"last_step": self.last_step}

    def load_state_dict(self, state: dict) -> None:
        self.last_step = int(state["last_step"])


def fit_warmup(
    warmup: float, configured_epochs: int | None, run_epochs: float, unit: str
) -> tuple[float, str, str | None]:
    """``(warmup, unit, warning)``: the warm-up (epochs) and schedule unit a run of
    ``run_epochs`` uses, and a warning when they had to change.

    A warm-up that fits (``warmup < run_epochs``) is kept. One that does not, because
    ``train.max_steps`` stops the run before the ``configured_epochs`` the schedule was
    written for (the paper's MD17 warm-up is 10 of 1500 epochs), keeps its share of the
    configured schedule (``warmup * run_epochs / configured_epochs``) and is stepped per
    optimiser step (``unit="step"``: a sub-epoch warm-up evaluated per epoch would never run).

    Raises:
        ConfigError: the warm-up is longer than the configured schedule itself.
    """
    from bench.errors import ConfigError

    if warmup < run_epochs:
        return warmup, unit, None
    if configured_epochs is None or warmup >= configured_epochs:
        raise ConfigError(
            f"train.warmup_epochs {warmup:g} does not fit a run of "
            f"{run_epochs:.4g} epochs (train.epochs {configured_epochs}); "
            f"set a shorter train.warmup_epochs"
        )
    fitted = warmup * run_epochs / configured_epochs
    note = (
        f"train.warmup_epochs {warmup:g} does not fit a run of {run_epochs:.4g} epochs "
        f"(train.max_steps); warm-up rescaled to {fitted:.3g} epochs, its share "
        f"{warmup:g}/{configured_epochs} of the configured schedule, stepped per step"
    )
    return fitted, "step", note
