"""torch.compile of a backbone's message-passing blocks (``train.compile``).

Each module of the backbone's ``repeated_blocks`` list (bench.backbones.base.Backbone) is
compiled in
place with dynamic shapes: the blocks are where the time goes, identical blocks share one
compiled graph (parameters are graph inputs), and the rest (neighbour search with a
data-dependent edge count, embeddings, per-structure sums, heads restricted to target atoms)
stays eager, which avoids graph breaks and inductor's corner cases around them (torch 2.13's
CPU code generator fails on the per-structure energy scatter of a one-structure batch).
``state_dict`` keys, checkpoints and EMA are those of the eager model. Gradient-force backbones
are refused: their training loss differentiates ``-dE/dpos`` again, and torch.compile's
autograd cannot differentiate a compiled graph twice (torch 2.13 raises at ``backward``).
"""

from __future__ import annotations

from torch import nn

from bench.backbones.base import Backbone
from bench.errors import ConfigError


def compiled_blocks(model: Backbone) -> nn.ModuleList:
    """The blocks ``compile_backbone`` compiles (ConfigError when the backbone names none)."""
    blocks = getattr(model, model.repeated_blocks or "", None)
    if not isinstance(blocks, nn.ModuleList):
        raise ConfigError(
            f"config key 'train.compile': backbone {model.name!r} names no "
            "repeated blocks to compile"
        )
    return blocks


def compile_backbone(model: Backbone, dynamic: bool | None = True) -> Backbone:
    """Compile each of ``model``'s repeated blocks in place (once); returns ``model``.

    Args:
        dynamic: torch.compile's ``dynamic``. True (default): atom and edge counts are symbolic
            from the first compilation, since they change with every batch.

    Raises:
        ConfigError: ``model`` computes forces as ``-dE/dpos`` (``force_mode: gradient``), or
            names no repeated blocks.
    """
    if model.force_mode == "gradient":
        raise ConfigError(
            f"config key 'train.compile' needs a direct-force backbone; {model.name!r} is built "
            "with force_mode 'gradient', whose loss needs a second derivative that "
            "torch.compile cannot take"
        )
    for block in compiled_blocks(model):
        if not getattr(block, "_compiled_call_impl", None):
            block.compile(dynamic=dynamic)
    return model
