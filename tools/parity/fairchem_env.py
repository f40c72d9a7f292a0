"""Make fairchem 1.9 and atomicarchitects/DeNS importable for the parity harness.

Only the model and graph modules are used. fairchem's package ``__init__`` files import
training-time dependencies (huggingface_hub, submitit, wandb, ...) that are not installed
here: each missing one becomes an empty placeholder module whose attributes are inert
placeholders, which is enough for imports that are never called. DeNS imports the older
package name ``ocpmodels``; it is aliased to ``fairchem.core``. Nothing here is used by
dens-bench itself.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
FAIRCHEM_SRC = REFERENCE / "fairchem" / "src"
DENS_ROOT = REFERENCE / "DeNS"
STUBS = HERE / "stubs"

#: top-level modules replaced by placeholders when they are not installed
PLACEHOLDERS = (
    "huggingface_hub",
    "submitit",
    "wandb",
    "lmdb",
    "tensorboard",
    "torch.utils.tensorboard",
    "pymatgen",
    "ray",
    "numba",
    "requests",
)


class _Inert(types.ModuleType):
    """A module whose every attribute is a harmless class (placeholders never run)."""

    __path__: list[str] = []

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None})


class _PlaceholderFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        top = fullname.split(".")[0]
        if fullname in PLACEHOLDERS or top in PLACEHOLDERS:
            if importlib.machinery.PathFinder.find_spec(top) is None or fullname != top:
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Inert(spec.name)

    def exec_module(self, module):
        return None


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``ocpmodels.X`` -> ``fairchem.core.X`` (the DeNS code predates the rename)."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "ocpmodels" or fullname.startswith("ocpmodels."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = importlib.import_module("fairchem.core" + spec.name[len("ocpmodels") :])
        if spec.name == "ocpmodels.models.base" and not hasattr(module, "BaseModel"):
            module.BaseModel = _base_model(module.GraphModelMixin)
        if spec.name == "ocpmodels.models.escn.escn":
            legacy = types.ModuleType(spec.name)
            legacy.__dict__.update(module.__dict__)
            legacy.eSCN = _legacy_escn(module.eSCN)
            return legacy
        return module

    def exec_module(self, module):
        return None


def _base_model(mixin: type) -> type:
    """The ``BaseModel`` of the ocpmodels releases DeNS was written against (removed in
    fairchem 1.x): an ``nn.Module`` with fairchem's graph mixin and ignored legacy arguments."""
    import torch

    class BaseModel(torch.nn.Module, mixin):
        def __init__(self, num_atoms=None, bond_feat_dim=None, num_targets=None):
            super().__init__()
            self.num_atoms, self.bond_feat_dim = num_atoms, bond_feat_dim
            self.num_targets = num_targets
            self.use_pbc_single = False

        def generate_graph(self, data, **kwargs):
            """The old tuple return (fairchem 1.9 returns a GraphData)."""
            g = mixin.generate_graph(self, data, **kwargs)
            return (
                g.edge_index,
                g.edge_distance,
                g.edge_distance_vec,
                g.cell_offsets,
                g.offset_distances,
                g.neighbors,
            )

        @property
        def num_params(self) -> int:
            return sum(p.numel() for p in self.parameters())

    return BaseModel


def _legacy_escn(escn: type) -> type:
    """fairchem 1.9's eSCN behind the positional signature of the ocpmodels eSCN that DeNS's
    ``escn_dens`` subclasses (three unused leading arguments and ``use_grid``)."""

    class eSCN(escn):  # noqa: N801 - the reference's name
        def __init__(
            self,
            num_atoms,
            bond_feat_dim,
            num_targets,
            use_pbc=True,
            regress_forces=True,
            otf_graph=False,
            max_neighbors=40,
            cutoff=8.0,
            max_num_elements=90,
            num_layers=8,
            lmax_list=None,
            mmax_list=None,
            sphere_channels=128,
            hidden_channels=256,
            edge_channels=128,
            use_grid=True,
            num_sphere_samples=128,
            distance_function="gaussian",
            basis_width_scalar=1.0,
            distance_resolution=0.02,
            show_timing_info=False,
        ):
            super().__init__(
                use_pbc=use_pbc,
                regress_forces=regress_forces,
                otf_graph=otf_graph,
                max_neighbors=max_neighbors,
                cutoff=cutoff,
                max_num_elements=max_num_elements,
                num_layers=num_layers,
                lmax_list=lmax_list,
                mmax_list=mmax_list,
                sphere_channels=sphere_channels,
                hidden_channels=hidden_channels,
                edge_channels=edge_channels,
                num_sphere_samples=num_sphere_samples,
                distance_function=distance_function,
                basis_width_scalar=basis_width_scalar,
                distance_resolution=distance_resolution,
                show_timing_info=show_timing_info,
            )

        def generate_graph(self, data, **kwargs):
            """The old tuple return (fairchem 1.9 returns a GraphData)."""
            g = escn.generate_graph(self, data, **kwargs)
            return (
                g.edge_index,
                g.edge_distance,
                g.edge_distance_vec,
                g.cell_offsets,
                g.offset_distances,
                g.neighbors,
            )

    return eSCN


def install() -> None:
    """Put the reference trees and stubs on ``sys.path`` and the finders on ``sys.meta_path``."""
    for path in (STUBS, FAIRCHEM_SRC, DENS_ROOT):
        if not path.exists():
            raise SystemExit(f"{path}: missing; see tools/parity/README.md")
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PlaceholderFinder())
        sys.meta_path.insert(0, _AliasFinder())
        _float64_geometry()


def _float64_geometry() -> None:
    """fairchem's graph code in a float64 harness: the selection runs on float32 copies of
    pos and cell (radius_graph_pbc needs float32, as on its LMDB data; the edge *set* is
    fairchem's), and edge vectors are computed in the positions' dtype instead of fairchem's
    float32 offsets, so float64 parity is not limited by float32 geometry."""
    import fairchem.core.models.base as base
    import torch

    select = base.radius_graph_pbc

    def radius_graph_pbc(
        data, radius, max_num_neighbors_threshold, enforce_max_neighbors_strictly=False, pbc=None
    ):
        data32 = types.SimpleNamespace(
            pos=data.pos.float(), cell=data.cell.float(), natoms=data.natoms, pbc=data.pbc
        )
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float32)  # its padding tables use the default dtype
        try:
            return select(
                data32, radius, max_num_neighbors_threshold, enforce_max_neighbors_strictly, pbc
            )
        finally:
            torch.set_default_dtype(default)

    def get_pbc_distances(
        pos,
        edge_index,
        cell,
        cell_offsets,
        neighbors,
        return_offsets=False,
        return_distance_vec=False,
    ):
        row, col = edge_index
        cell = torch.repeat_interleave(cell, neighbors.to(cell.device), dim=0)
        offsets = cell_offsets.to(pos.dtype).view(-1, 1, 3).bmm(cell.to(pos.dtype)).view(-1, 3)
        vec = pos[row] - pos[col] + offsets
        dist = vec.norm(dim=-1)
        keep = dist != 0
        out = {"edge_index": edge_index[:, keep], "distances": dist[keep]}
        if return_distance_vec:
            out["distance_vec"] = vec[keep]
        if return_offsets:
            out["offsets"] = offsets[keep]
        return out

    base.radius_graph_pbc = radius_graph_pbc
    base.get_pbc_distances = get_pbc_distances
