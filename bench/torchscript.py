"""A traced TorchScript energy model: ``bench export --run R --output model.ts.pt --torchscript``.

The file is ``torch.jit.save`` of :class:`EnergyModule` traced with ``torch.jit.trace``: the
backbone's energy path on a neighbour graph given as input, so neither the Python neighbour
search nor ``torch.autograd.grad`` is inside the traced code. Its forward is

    energy = module(z, pos, edge_index, edge_shift, natoms)

with ``z`` [N] long, ``pos`` [N, 3] Angstrom (the model's dtype), ``edge_index`` [2, E] long
(row 0 source j, row 1 target i), ``edge_shift`` [E, 3] Angstrom (``edge_vec = pos[j] - pos[i]
+ shift``), ``natoms`` [B] long (atoms of each structure, atoms ordered by structure) and
``energy`` [B] eV, float64 (de-normalised). The number of structures is ``natoms``' length: a
trace keeps sizes read from a tensor's shape, and freezes an integer given as a value. Forces are
``-d energy / d pos`` by autograd on the loaded module (a traced graph is differentiable).

Metadata (``format``, ``format_version``, ``bench_version``, ``run_id``, ``backbone``,
``config``, ``normalization``, ``dtype``, ``cutoff`` Angstrom, ``max_neighbors``,
``neighbor_rule``, ``force_mode``) is the JSON extra file ``dens_bench.json``.
:func:`load_torchscript` reads it and returns a :class:`TorchScriptModel` that builds the graph
(bench.data.graphs) and returns energy and forces; it imports neither ``backbones`` nor the run.

Trust: a TorchScript file is a program (``torch.jit.load`` runs its code, ``__setstate__``
included), unlike the ``weights_only`` file of bench.export; load only files you made.
``bench eval`` and DensBenchCalculator never load one (``torch.load(..., weights_only=True)``
refuses a TorchScript archive: one-line error, exit 2).

Backbones (torch 2.13): SchNet, Equiformer, SEGNN, eSCN and EquiformerV2 all trace with
gradient forces: their energy paths branch on no tensor value. The trace drops one guard, the
atom-type range check of the embeddings (``int(z.max())``), so an unknown element is no longer
reported by name. Every export re-checks traceability: the trace must reproduce the eager energy
on a second batch of other sizes (N, E, B), or the export fails with one line (this catches a
frozen size such as ``int(batch.num_graphs)``). Direct-force presets (OC20, OC22) are refused:
their forces would be a second traced output, which no test exercises yet. The file runs on the
CPU (it is traced there and loaded with ``map_location="cpu"``).

Why TorchScript and not ``torch.export`` (both tried on this module, torch 2.13): with dynamic
dims for N, E and B, ``torch.export.export`` of SchNet works and its loaded program is
differentiable too, but Equiformer, SEGNN, eSCN and EquiformerV2 fail
(``GuardOnDataDependentSymNode``) on the atom-type guard ``int(z.max())`` that the trace simply
drops. ``torch.jit`` is deprecated (``torch.jit.load`` raises a DeprecationWarning, hidden by
default) but works in 2.13; moving to ``.pt2`` needs those guards rewritten with
``torch._check``.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from bench import __version__
from bench.data.graphs import build_graph
from bench.errors import ConfigError, DataError
from bench.io import write_bytes_atomic

FORMAT = "dens-bench-torchscript"
FORMAT_VERSION = 1
META_FILE = "dens_bench.json"


class EnergyModule(nn.Module):
    """The energy (eV, float64) [B] of a gradient-force backbone on a given neighbour graph."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(
        self, z: Tensor, pos: Tensor, edge_index: Tensor, edge_shift: Tensor, natoms: Tensor
    ) -> Tensor:
        """z [N], pos [N, 3] Angstrom, edge_index [2, E], edge_shift [E, 3], natoms [B] ->
        energy [B] eV (float64)."""
        # here: loading a file never imports backbones
        from bench.backbones.base import ALL_ATOMS, AtomInputs, Graph, edge_vectors

        batch = torch.repeat_interleave(torch.arange(natoms.shape[0]), natoms)
        edge_vec = edge_vectors(pos, edge_index, edge_shift)
        graph = Graph(edge_index, edge_vec, edge_vec.norm(dim=-1))
        # num_structures: natoms' traced length, not a frozen int
        inputs = AtomInputs(z, pos, batch, natoms.shape[0])
        energy, _ = self.backbone.structure_energy(inputs, graph, ALL_ATOMS)
        return self.backbone.denormalize_energy(energy, z, batch)


def export_torchscript(run_dir: str | Path, output: str | Path) -> Path:
    """Trace the energy model of the finished run ``run_dir`` (or of a ``bench export`` model
    file) and write it to ``output``."""
    from bench.export import load_model

    model, cfg = load_model(run_dir)
    meta = _metadata(Path(run_dir), cfg, model)
    traced = trace_energy(model, f"{cfg.model.backbone} preset {cfg.preset!r}", meta)
    return write_torchscript(traced, meta, output)


def write_torchscript(traced: torch.jit.ScriptModule, meta: dict[str, Any], output) -> Path:
    """``torch.jit.save`` of ``traced`` with ``meta`` (format fields added) as META_FILE."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={META_FILE: json.dumps(meta)})
    return write_bytes_atomic(output, buffer.getvalue())


def trace_energy(model: nn.Module, name: str, meta: dict[str, Any]) -> torch.jit.ScriptModule:
    """The traced :class:`EnergyModule` of the gradient-force backbone ``model``, checked on a
    second batch of other sizes; ConfigError naming ``name`` for a direct-force model or when
    the trace differs. ``meta`` gives ``cutoff``, ``max_neighbors`` and ``neighbor_rule``."""
    if model.force_mode != "gradient":
        raise ConfigError(
            f"--torchscript: {name} predicts forces directly; only "
            "gradient-force models are exported to TorchScript"
        )
    dtype = next(model.parameters()).dtype
    module = EnergyModule(model).eval()
    with warnings.catch_warnings():  # TracerWarnings are expected; _check_trace is the test
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, _example(_EXAMPLES[0], meta, dtype), check_trace=False)
    _check_trace(traced, module, _example(_EXAMPLES[1], meta, dtype), name)
    return traced


def _metadata(source: Path, cfg, model: nn.Module) -> dict[str, Any]:
    from bench.export import read_model_file
    from bench.train.setup import STATS_FILE

    if source.is_dir():
        norm = json.loads((source / STATS_FILE).read_text())
    else:
        norm = read_model_file(source)["normalization"]
    return {
        "bench_version": __version__,
        "run_id": cfg.run_id,
        "backbone": cfg.model.backbone,
        "config": cfg.to_dict(),
        "normalization": norm,
        "dtype": cfg.dtype,
        "cutoff": model.cutoff,
        "max_neighbors": model.max_neighbors,
        "neighbor_rule": model.neighbor_rule,
        "force_mode": model.force_mode,
    }


# Two small molecules (z, pos in Angstrom) per example batch; the second batch has other
# sizes (N, E, B) than the first, so a size frozen by the trace shows as a mismatch.
_EXAMPLES = (
    (
        (
            [6, 1, 1, 1, 1],
            [
                [0, 0, 0],
                [0.63, 0.63, 0.63],
                [-0.63, -0.63, 0.63],
                [-0.63, 0.63, -0.63],
                [0.63, -0.63, -0.63],
            ],
        ),
        ([8, 1, 1], [[0, 0, 0.12], [0, 0.76, -0.47], [0, -0.76, -0.47]]),
    ),
    (
        (
            [7, 1, 1, 1],
            [[0, 0, 0.1], [0, 0.94, -0.27], [0.81, -0.47, -0.27], [-0.81, -0.47, -0.27]],
        ),
        ([6, 8], [[0, 0, 0], [0, 0, 1.13]]),
        ([1, 1], [[0, 0, 0], [0, 0, 0.74]]),
    ),
)


def _example(molecules, meta: dict, dtype: torch.dtype) -> tuple[Tensor, ...]:
    z = torch.tensor([a for zs, _ in molecules for a in zs])
    pos = torch.tensor([p for _, ps in molecules for p in ps], dtype=dtype)
    natoms = torch.tensor([len(zs) for zs, _ in molecules])
    return (z, pos, *_graph(pos, natoms, meta), natoms)


def _graph(pos: Tensor, natoms: Tensor, meta: dict, cell=None, pbc=None) -> tuple[Tensor, Tensor]:
    batch = torch.repeat_interleave(torch.arange(natoms.shape[0]), natoms)
    return build_graph(
        pos.detach(), batch, meta["cutoff"], meta["max_neighbors"], cell, pbc, meta["neighbor_rule"]
    )


def _check_trace(traced, module: nn.Module, inputs: tuple[Tensor, ...], name: str) -> None:
    """ConfigError when the trace does not reproduce the eager energy on ``inputs``."""
    with torch.no_grad():
        want = module(*inputs)
        try:
            got = traced(*inputs)
        except RuntimeError as exc:
            raise ConfigError(
                f"--torchscript: the trace of {name} fails on a batch of another "
                f"shape ({str(exc).splitlines()[-1]})"
            ) from exc
    if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-6, atol=1e-6):
        raise ConfigError(
            f"--torchscript: the trace of {name} does not reproduce the model on "
            "a batch of another shape (a size or branch was frozen)"
        )


class TorchScriptModel:
    """Energy and forces of a file written by :func:`export_torchscript`.

    Attributes:
        module: the loaded ``torch.jit.ScriptModule``.
        meta: the file's metadata (see the module docstring).
    """

    def __init__(self, module: torch.jit.ScriptModule, meta: dict[str, Any]) -> None:
        self.module = module
        self.meta = meta
        self.dtype = getattr(torch, meta["dtype"])

    def __call__(
        self,
        z: Tensor,
        pos: Tensor,
        natoms: Tensor | None = None,
        cell: Tensor | None = None,
        pbc: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Energy [B] (eV, float64) and forces [N, 3] (eV/Angstrom, the model's dtype).

        Args:
            z: [N] atomic numbers; pos: [N, 3] Angstrom; natoms: [B] atoms per structure
                (default: one structure); cell: [B, 3, 3] lattice rows, Angstrom, and pbc
                [B, 3] bool for periodic structures.
        """
        natoms = torch.tensor([z.shape[0]]) if natoms is None else natoms
        pos = pos.detach().to(self.dtype).requires_grad_(True)
        edge_index, shift = _graph(pos, natoms, self.meta, cell, pbc)
        with torch.enable_grad():
            energy = self.module(z.long(), pos, edge_index, shift, natoms)
            (grad,) = torch.autograd.grad(energy.sum(), pos)
        return energy.detach(), -grad


def load_torchscript(path: str | Path) -> TorchScriptModel:
    """The model of a file written by ``bench export --torchscript``; DataError naming the file
    when it is not one. The file's code runs on loading: pass only files you trust."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "no such TorchScript model file")
    extra = {META_FILE: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        meta = json.loads(extra[META_FILE])
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one clear error
        raise DataError(path, None, f"not a {FORMAT} file ({type(exc).__name__})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(path, "format", f"not a {FORMAT} file (bench export --torchscript)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            path,
            "format_version",
            f"{meta.get('format_version')!r}; this dens-bench reads version {FORMAT_VERSION}",
        )
    return TorchScriptModel(module.eval(), meta)
