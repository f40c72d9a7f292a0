"""The start-up summary ``bench run`` prints on stderr before the first step."""

from __future__ import annotations

from bench.config import RunConfig
from bench.data.registry import SplitData
from bench.train.normalization import Normalization


def startup_lines(
    cfg: RunConfig, split: SplitData, norm: Normalization, params: int, trainer, processes: int
) -> list[str]:
    """What is about to run: data splits, parameters, normalisation (eV, eV/Angstrom),
    device, schedule and validation; a ``warning:`` line when the schedule was rescaled
    (bench.train.schedule.fit_warmup)."""
    t = cfg.train
    data = " ".join(str(x) for x in (cfg.data.name, cfg.data.molecule or cfg.data.path) if x)
    refs = "per-element references" if norm.atom_ref else "no element references"
    validation = (
        f"validation every {t.val_every_epochs} epoch(s) on {len(split.val)} "
        f"structures, best weights by val force MAE in checkpoints/best.pt"
        if t.val_every_epochs and split.val
        else "no validation during training"
    )
    lines = [
        f"run {cfg.run_id}: {cfg.model.backbone} (preset {cfg.preset}) x {cfg.method.name} "
        f"on {data}; device {cfg.device} ({cfg.dtype}), {processes} process(es)",
        f"data: train {len(split.train)}, val {len(split.val)}, test {len(split.test)} "
        f"structures ({'periodic' if split.periodic else 'molecular'}, "
        f"{split.energy_kind} energies)",
        f"model: {params:,} parameters; normalisation: energy mean {norm.energy_mean:.6g} "
        f"eV, std {norm.energy_std:.4g} eV, force std {norm.force_std:.4g} eV/A ({refs})",
        f"schedule: {trainer.total_steps} steps ({trainer.steps_per_epoch} per epoch, "
        f"{trainer.total_steps / trainer.steps_per_epoch:.3g} epochs), batch {t.batch_size}, "
        f"lr {t.lr:g}, warm-up {trainer.schedule.warmup:.3g} epochs ({trainer.schedule.unit}-"
        f"wise cosine); {validation}; a line every {t.log_every} step(s)",
    ]
    if trainer.schedule_note:
        lines.append(f"warning: {trainer.schedule_note}")
    return lines
