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

        @property
        def num_params(self) -> int:
            return sum(p.numel() for p in self.parameters())

    return BaseModel


def install() -> None:
    """Put the reference trees and stubs on ``sys.path`` and the finders on ``sys.meta_path``."""
    for path in (STUBS, FAIRCHEM_SRC, DENS_ROOT):
        if not path.exists():
            raise SystemExit(f"{path}: missing; see tools/parity/README.md")
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    sys.meta_path.insert(0, _PlaceholderFinder())
    sys.meta_path.insert(0, _AliasFinder())
