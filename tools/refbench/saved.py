"""Attribute one training step's saved activations to modules, for either side of refbench.

    PYTHONPATH=$PWD python3 tools/refbench/saved.py MODEL SIDE [--depth 4] [--steps 2]
        [--noise-head-everywhere] [--output FILE]

Builds ``SIDE`` ("ref" or "ours") of refbench's ``MODEL`` (same batches, paper size, one
thread), takes ``steps - 1`` untimed steps, then one more under
``torch.autograd.graph.saved_tensors_hooks``: every tensor the autograd graph saves is counted
once per storage (its full ``nbytes``, so a saved view costs the whole tensor it views;
parameters and buffers are left out) and charged to the innermost module running when it was
saved, the module path cut at ``depth`` parts and block indices merged (``blocks.*``). Tensors
saved while ``torch.autograd.grad`` builds the force graph (``create_graph=True``) form the
phase ``grad`` and are charged to the module of the forward node being differentiated: every op
(a TorchFunctionMode) and every module output tags the untagged nodes behind its outputs with
the running module, which also reaches the nodes created inside composite ops (matmul's mm)
and TorchScript code (the reference's e3nn tensor products and linears); what none reaches is
``<untagged>``. ``--noise-head-everywhere``: dens-bench's noise head on every atom (the
reference's MD17 work) instead of the corrupted atoms only.

Prints (and writes, with ``--output``) ``{"total_mb", "mb": {"<phase>|<module>": MB}}``.
Nothing here is imported by dens-bench.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import sides
import torch
from torch.overrides import TorchFunctionMode


class Attribution:
    """Module stack (global forward hooks), node -> module tags and the per-module tally."""

    def __init__(self, depth: int) -> None:
        self.depth, self.names, self.stack = depth, {}, []
        self.node_module: dict = {}
        self.skip: set[int] = set()  # storages of parameters and buffers
        self.seen: set[int] = set()
        self.mb: dict[str, float] = defaultdict(float)
        self.phase = "fwd"

    def name_modules(self, model: torch.nn.Module) -> None:
        self.names = {id(m): n or "<root>" for n, m in model.named_modules()}
        tensors = [*model.parameters(), *model.buffers()]
        self.skip = {t.untyped_storage().data_ptr() for t in tensors}

    def where(self) -> str:
        if not self.stack:
            return "<outside>"
        path = re.sub(r"blocks\.\d+", "blocks.*", self.stack[-1])
        return ".".join(path.split(".")[: self.depth])

    def pre(self, module, args) -> None:
        self.stack.append(self.names.get(id(module), type(module).__name__))

    def post(self, module, args, out) -> None:
        self.tag(out)
        self.stack.pop()

    def tag(self, out) -> None:
        """Charge the untagged autograd nodes behind ``out`` (the op's own node and those a
        composite op or TorchScript code created inside it) to the current module."""
        where = self.where()
        todo = [t.grad_fn for t in _tensors(out) if t.grad_fn is not None]
        while todo:
            node = todo.pop()
            if node is None or node in self.node_module:
                continue
            self.node_module[node] = where
            todo.extend(next_node for next_node, _ in node.next_functions)

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key and key not in self.skip and key not in self.seen:
            self.seen.add(key)
            if self.phase == "fwd":
                where = self.where()
            else:
                where = self.node_module.get(torch._C._current_autograd_node(), "<untagged>")
            self.mb[f"{self.phase}|{where}"] += storage.nbytes() / 2**20
        return t


class TagNodes(TorchFunctionMode):
    """Tag the autograd nodes every op creates with the running module."""

    def __init__(self, attribution: Attribution) -> None:
        super().__init__()
        self.attribution = attribution

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.attribution.tag(out)
        return out


def _tensors(out) -> list[torch.Tensor]:
    """The tensors of a module's or op's output (a tensor, or a tuple / list / dict of them)."""
    if isinstance(out, torch.Tensor):
        return [out]
    items = out.values() if isinstance(out, dict) else out if isinstance(out, tuple | list) else ()
    return [t for t in items if isinstance(t, torch.Tensor)]


def measure(args: argparse.Namespace) -> dict:
    """``{"total_mb", "mb"}`` of the last of ``args.steps`` steps of ``args.side``."""
    spec = sides.MODELS[args.model]
    opts = sides.perf_options(spec, "paper", Path(args.data_root).resolve(), 1000)
    step, _ = sides.reference(spec, "paper", opts) if args.side == "ref" else sides.ours(opts)
    acc = Attribution(args.depth)

    def pre(module, inputs):
        if not acc.names and not acc.stack:  # the first module a step calls: the model
            acc.name_modules(module)
        acc.pre(module, inputs)

    hooks = [
        torch.nn.modules.module.register_module_forward_pre_hook(pre),
        torch.nn.modules.module.register_module_forward_hook(acc.post),
    ]
    for _ in range(args.steps - 1):
        step()
    grad = torch.autograd.grad

    def tracked_grad(*a, **k):
        acc.phase = "grad"
        try:
            return grad(*a, **k)
        finally:
            acc.phase = "fwd"

    torch.autograd.grad = tracked_grad
    try:
        with torch.autograd.graph.saved_tensors_hooks(acc.pack, lambda t: t), TagNodes(acc):
            step()
    finally:
        torch.autograd.grad = grad
        for hook in hooks:
            hook.remove()
    mb = {k: round(v, 1) for k, v in sorted(acc.mb.items())}
    return {"total_mb": round(sum(acc.mb.values()), 1), "mb": mb}


def noise_head_everywhere() -> None:
    """dens-bench's heads: the noise head on every atom (force targets unchanged)."""
    from bench.data.heads import HeadRequest
    from bench.methods.base import Prepared

    Prepared.heads = property(lambda p: HeadRequest(force_atoms=p.force_mask, noise_atoms=None))


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=sorted(m for m, s in sides.MODELS.items() if s.kind == "md17"))
    p.add_argument("side", choices=("ref", "ours"))
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--noise-head-everywhere", action="store_true")
    p.add_argument("--data-root", default=os.environ.get("DENS_BENCH_DATA", "tests/data"))
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)
    if args.depth < 1 or args.steps < 1:
        p.error("need --depth >= 1 and --steps >= 1")
    sides.setup_paths()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.noise_head_everywhere:
        noise_head_everywhere()
    result = {"model": args.model, "side": args.side, "config": vars(args)} | measure(args)
    text = json.dumps(result, indent=1)
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
