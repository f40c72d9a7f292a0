"""Tensors from torch's legacy pickling, rebuilt from raw bytes with nothing executed.

``pickle.dumps(tensor)`` writes ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks)`` whose storage is ``torch.storage._load_from_bytes(b)``, ``b``
being torch's legacy ``torch.save`` layout of one storage:

1. five consecutive pickles: the magic number, the protocol version (1001), a system-info
   dict, the storage reference ``persistent_id("storage", torch.<T>Storage, key, location,
   numel, None)`` and the list of storage keys ``[key]``;
2. then the raw data: int64 little-endian ``numel`` and ``numel * itemsize`` bytes.

Torch hands those bytes to ``torch.load(weights_only=False)``, which runs any pickle and passes
zip archives to ``torch.jit.load`` (whose ``__setstate__`` can write files). Here the five
pickles are read with unpicklers that resolve no global except the storage type names, and the
data is copied from the raw bytes; zip, tar, views, big-endian data and trailing bytes are
refused. The rebuild functions check offset, size and stride against the storage.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
from collections import OrderedDict

import torch

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
#: legacy storage class name -> dtype of its elements
STORAGE_DTYPES = {
    "DoubleStorage": torch.float64,
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128,
    "UntypedStorage": torch.uint8,
}
MAX_DIMS = 8


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for more than S2EF entries need: a global outside the allowed set, a
    zip or TorchScript archive, or tensor arguments that do not fit their storage."""


class RawStorage:
    """One storage's elements as a 1-D CPU tensor (``data``: [numel], its dtype)."""

    __slots__ = ("data",)

    def __init__(self, data: torch.Tensor):
        self.data = data


def storage_from_legacy_bytes(data: bytes) -> RawStorage:
    """The storage in ``data`` (torch's legacy single-storage layout, module docstring).

    Raises:
        UnsafePickleError: not exactly that layout (zip archives included).
    """
    if not isinstance(data, bytes | bytearray):
        raise UnsafePickleError(f"tensor storage given as {type(data).__name__}, not bytes")
    if data[:2] == b"PK":
        raise UnsafePickleError(
            "tensor storage is a zip archive (TorchScript or torch.save); "
            "refused, only legacy raw storages are read"
        )
    f = io.BytesIO(data)
    if _plain(f) != MAGIC_NUMBER:
        raise UnsafePickleError("tensor storage is not in torch's legacy format (magic number)")
    if _plain(f) != PROTOCOL_VERSION:
        raise UnsafePickleError("tensor storage has an unknown legacy protocol version")
    info = _plain(f)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise UnsafePickleError("tensor storage is not little-endian legacy data")
    ref = _StorageRefUnpickler(f).load()
    if not isinstance(ref, _StorageRef) or _plain(f) != [ref.key]:
        raise UnsafePickleError("tensor storage pickle does not hold exactly one storage")
    return RawStorage(_raw_elements(f, ref))


def rebuild_tensor(storage: RawStorage, offset: int, size: tuple, stride: tuple) -> torch.Tensor:
    """``torch._utils._rebuild_tensor``: a copy of the strided view of ``storage``."""
    if not isinstance(storage, RawStorage):
        raise UnsafePickleError(f"tensor rebuilt from a {type(storage).__name__}, not a storage")
    _check_layout(storage.data.numel(), offset, size, stride)
    return torch.as_strided(storage.data, size, stride, offset).clone()


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
    """``torch._utils._rebuild_tensor_v2``; backward hooks and metadata must be empty."""
    if type(requires_grad) is not bool:
        raise UnsafePickleError("tensor requires_grad is not a bool")
    if type(hooks) not in (OrderedDict, dict) or hooks or metadata:
        raise UnsafePickleError("tensor carries backward hooks or metadata; refused")
    return rebuild_tensor(storage, offset, size, stride)


def _check_layout(numel: int, offset, size, stride) -> None:
    ints = (offset, *size, *stride) if type(size) is type(stride) is tuple else (None,)
    if not all(type(v) is int and v >= 0 for v in ints) or len(size) != len(stride):
        raise UnsafePickleError("tensor offset, size or stride are not non-negative int tuples")
    if len(size) > MAX_DIMS:
        raise UnsafePickleError(f"tensor has {len(size)} dimensions (at most {MAX_DIMS})")
    count = math.prod(size)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if count and (count > numel or last >= numel):
        raise UnsafePickleError(f"tensor of size {size} does not fit its storage of {numel}")


class _StorageRef:
    __slots__ = ("dtype", "key", "numel")

    def __init__(self, dtype: torch.dtype, key: str, numel: int):
        self.dtype, self.key, self.numel = dtype, key, numel


class _StorageType:
    """Stand-in for ``torch.<T>Storage`` inside the storage pickle (never called)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise UnsafePickleError(f"refusing to load global {module}.{name} in a tensor storage")

    def persistent_load(self, pid):
        raise UnsafePickleError("unexpected persistent id in a tensor storage")


class _StorageRefUnpickler(_NoGlobalsUnpickler):
    def find_class(self, module: str, name: str):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        return super().find_class(module, name)

    def persistent_load(self, pid):
        ok = isinstance(pid, tuple) and len(pid) == 6 and pid[0] in ("storage", b"storage")
        if ok:
            _, kind, key, location, numel, view = pid
            ok = isinstance(kind, _StorageType) and isinstance(key, str)
            ok = ok and isinstance(location, str) and type(numel) is int and numel >= 0
        if not ok or view is not None:
            raise UnsafePickleError("tensor storage reference is malformed or a view")
        return _StorageRef(kind.dtype, key, numel)


def _plain(f: io.BytesIO):
    return _NoGlobalsUnpickler(f).load()


def _raw_elements(f: io.BytesIO, ref: _StorageRef) -> torch.Tensor:
    head = f.read(8)
    if len(head) != 8 or struct.unpack("<q", head)[0] != ref.numel:
        raise UnsafePickleError("tensor storage size disagrees with its reference")
    nbytes = ref.numel * torch.empty((), dtype=ref.dtype).element_size()
    raw = f.read(nbytes)
    if len(raw) != nbytes or f.read(1):
        raise UnsafePickleError("tensor storage data is truncated or followed by extra bytes")
    if not nbytes:
        return torch.empty(0, dtype=ref.dtype)
    return torch.frombuffer(bytearray(raw), dtype=ref.dtype)
