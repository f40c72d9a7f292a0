"""Split each training step of a ``bench.train.loop.Trainer`` into phases, leaving its code as is.

The probe wraps three bound methods on the instances (the Trainer's ``next_batch``, the
method's ``prepare`` and the model's ``build_graph``) and adds forward hooks on the model and
step hooks on the optimiser, so the timed step is exactly the one ``bench run`` executes.
Phases (s):

- ``data``: getting the batch (collating pre-converted structures, as ``bench run`` does,
  or with ``train.loader_workers`` waiting for a worker's);
- ``corrupt``: the method's ``prepare`` (noise, masks, force encoding inputs);
- ``graph``: the backbone's neighbour list and edge vectors (inside its forward);
- ``forward``: the rest of the forward, including ``-dE/dpos`` for gradient forces;
- ``backward``: losses, ``zero_grad``, ``backward`` and gradient clipping;
- ``optimizer``: ``optimizer.step``;
- ``other``: the remainder (device copy, learning-rate schedule, targets, EMA).

On CUDA every boundary synchronises the device, so phases add up to the step's wall time.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import torch

PHASES = ("data", "corrupt", "graph", "forward", "backward", "optimizer", "other")


class StepProbe:
    """Attach to a Trainer; :meth:`step` runs one of its steps and returns the phase times.

    Args:
        trainer: a bench.train.loop.Trainer (its model, optimizer, method and next_batch).
        device: "cpu" or "cuda" (CUDA synchronises at every phase boundary).
    """

    def __init__(self, trainer: Any, device: str) -> None:
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        self._sync = torch.cuda.synchronize if device == "cuda" else _no_sync
        self._spans: dict[str, float] = {}
        self._marks: dict[str, float] = {}
        self._shape = (0, 0)
        model, optimizer = trainer.model, trainer.optimizer
        trainer.next_batch = self._timed(trainer.next_batch, "data", self._count)
        trainer.method.prepare = self._timed(trainer.method.prepare, "corrupt")
        model.build_graph = self._timed(model.build_graph, "graph")
        model.register_forward_pre_hook(lambda *_: self._mark("forward_start", first=True))
        model.register_forward_hook(lambda *_: self._mark("forward_end"))
        optimizer.register_step_pre_hook(lambda *_: self._mark("step_start"))
        optimizer.register_step_post_hook(lambda *_: self._mark("step_end"))

    def step(self, run: Callable[[], Any]) -> dict[str, float]:
        """Run one step (``run()``); returns ``{phase: s, "total": s, "structures", "atoms"}``."""
        self._spans = {"data": 0.0, "corrupt": 0.0, "graph": 0.0}
        self._marks, self._shape = {}, (0, 0)
        self._sync()
        start = time.perf_counter()
        run()
        self._sync()
        total = time.perf_counter() - start
        missing = {"forward_start", "forward_end", "step_start", "step_end"} - set(self._marks)
        if missing:
            raise RuntimeError(f"the step never reached {sorted(missing)}: not a training step")
        m = self._marks
        out = dict(self._spans)
        out["forward"] = m["forward_end"] - m["forward_start"] - out["graph"]
        out["backward"] = m["step_start"] - m["forward_end"]
        out["optimizer"] = m["step_end"] - m["step_start"]
        out["other"] = total - sum(out[p] for p in PHASES[:-1])
        return out | {"total": total, "structures": self._shape[0], "atoms": self._shape[1]}

    def _mark(self, name: str, first: bool = False) -> None:
        self._sync()
        if not (first and name in self._marks):
            self._marks[name] = time.perf_counter()

    def _count(self, batch: Any) -> None:
        self._shape = (int(batch.num_graphs), int(batch.num_nodes))

    def _timed(self, fn: Callable, phase: str, seen: Callable[[Any], None] | None = None):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            self._sync()
            start = time.perf_counter()
            result = fn(*args, **kwargs)
            self._sync()
            self._spans[phase] += time.perf_counter() - start
            if seen is not None:
                seen(result)
            return result

        return wrapper


def _no_sync() -> None:
    """CPU work is synchronous: nothing to wait for."""
