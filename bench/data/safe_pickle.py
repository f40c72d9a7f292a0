"""A restricted unpickler for fairchem S2EF LMDB entries: a malicious file must not run code.

Only the globals that pickled ``torch_geometric`` ``Data`` objects with torch tensors and numpy
arrays need are resolved; any other global (``os.system``, ``builtins.eval``, ...) raises
``UnsafePickleError`` before anything is called. Tensor storages are pickled by torch as nested
legacy ``torch.save`` bytes; those go through ``torch.load`` with an unpickler that resolves
no global at all (storages arrive through persistent ids).
"""

from __future__ import annotations

import io
import pickle
import types

import torch

#: (module, name) pairs an S2EF entry may reference
ALLOWED_GLOBALS = frozenset(
    {
        ("torch_geometric.data.data", "Data"),
        ("torch_geometric.data.data", "DataEdgeAttr"),
        ("torch_geometric.data.data", "DataTensorAttr"),
        ("torch_geometric.data.storage", "GlobalStorage"),
        ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("collections", "OrderedDict"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles
    }
)
#: numpy 1.x spells numpy._core as numpy.core
_NUMPY_1 = {
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global outside ALLOWED_GLOBALS."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` resolving only ALLOWED_GLOBALS (and torch's storage loader)."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _storage_from_bytes
        if (_NUMPY_1.get(module, module), name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise UnsafePickleError(f"refusing to load global {module}.{name} in a tensor storage")


#: a stand-in "pickle module" for torch.load: its unpickler resolves no global
_NO_GLOBALS = types.SimpleNamespace(
    Unpickler=_NoGlobalsUnpickler,
    load=lambda f, **kw: _NoGlobalsUnpickler(f, **kw).load(),
    __name__="no_globals_pickle",
)


def _storage_from_bytes(data: bytes):
    """A tensor storage from torch's legacy serialisation, resolving no pickle global."""
    return torch.load(io.BytesIO(data), weights_only=False, pickle_module=_NO_GLOBALS)


def restricted_loads(data: bytes):
    """Unpickle ``data`` allowing only ALLOWED_GLOBALS.

    Raises:
        UnsafePickleError: a global outside the allowed set is referenced.
    """
    return RestrictedUnpickler(io.BytesIO(data)).load()
