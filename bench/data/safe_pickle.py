"""A restricted unpickler for fairchem S2EF LMDB entries: a malicious file must not run code.

Only the globals that pickled ``torch_geometric`` ``Data`` objects with torch tensors and numpy
arrays need are resolved, and every callable among them is replaced by a checking stand-in:
tensors are rebuilt from raw storage bytes (bench.data.torch_legacy; never ``torch.load`` or
``torch.jit.load``), numpy arrays only with numeric dtypes (no object arrays), ``_codecs.encode``
only as latin-1. Any other global (``os.system``, ``builtins.eval``, ...) raises
``UnsafePickleError`` before anything is called.
"""

from __future__ import annotations

import _codecs
import io
import pickle
from collections import OrderedDict

import numpy as np

try:
    from numpy._core.multiarray import scalar as _np_scalar
    from numpy._core.numeric import _frombuffer as _np_frombuffer
except ImportError:  # numpy < 2 spells numpy._core as numpy.core
    from numpy.core.multiarray import scalar as _np_scalar
    from numpy.core.numeric import _frombuffer as _np_frombuffer

from bench.data.torch_legacy import (
    UnsafePickleError,
    rebuild_tensor,
    rebuild_tensor_v2,
    storage_from_legacy_bytes,
)

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "UnsafePickleError", "restricted_loads"]

#: PyG classes an entry may hold (plain containers: their __setstate__ only stores a dict)
PYG_CLASSES = frozenset(
    {
        ("torch_geometric.data.data", "Data"),
        ("torch_geometric.data.data", "DataEdgeAttr"),
        ("torch_geometric.data.data", "DataTensorAttr"),
        ("torch_geometric.data.storage", "GlobalStorage"),
    }
)
#: numeric dtype kinds numpy arrays and scalars may have (bool, int, uint, float, complex)
NUMERIC_KINDS = "biufc"


def _encode(text, encoding="latin1"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode is allowed for latin-1 text only")
    return _codecs.encode(text, encoding)


def _dtype(spec, align=False, copy=False):
    dtype = np.dtype(spec, align, copy) if isinstance(spec, str) else None
    if dtype is None or dtype.kind not in NUMERIC_KINDS:
        raise UnsafePickleError(f"refusing numpy dtype {spec!r} (numeric dtypes only)")
    return dtype


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` as the class argument of ``_reconstruct`` (not callable)."""


def _reconstruct(cls, shape, typecode):
    if cls is not _NdarrayToken or typecode != b"b":
        raise UnsafePickleError("numpy _reconstruct is allowed for plain ndarrays only")
    return np.ndarray.__new__(np.ndarray, (0,), np.dtype(np.uint8))


def _scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_KINDS:
        raise UnsafePickleError("numpy scalar of a non-numeric dtype refused")
    return _np_scalar(dtype, data)


def _frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_KINDS:
        raise UnsafePickleError("numpy buffer of a non-numeric dtype refused")
    return _np_frombuffer(buf, dtype, shape, order)


#: (module, name) -> the object the unpickler hands out for it
ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
    ("torch.storage", "_load_from_bytes"): storage_from_legacy_bytes,
    ("collections", "OrderedDict"): OrderedDict,
    ("numpy", "ndarray"): _NdarrayToken,
    ("numpy", "dtype"): _dtype,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,  # bytes in protocol-2 pickles
}
#: numpy 1.x spells numpy._core as numpy.core
_NUMPY_1 = {
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` resolving only PYG_CLASSES and ALLOWED_GLOBALS."""

    def find_class(self, module: str, name: str):
        if (module, name) in PYG_CLASSES:
            return super().find_class(module, name)
        found = ALLOWED_GLOBALS.get((_NUMPY_1.get(module, module), name))
        if found is None:
            raise UnsafePickleError(f"refusing to load global {module}.{name}")
        return found

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing a persistent id (entries are self-contained)")


def restricted_loads(data: bytes):
    """Unpickle ``data`` allowing only the globals above.

    Raises:
        UnsafePickleError: a global outside the allowed set, or a refused argument of one.
    """
    return RestrictedUnpickler(io.BytesIO(data)).load()
