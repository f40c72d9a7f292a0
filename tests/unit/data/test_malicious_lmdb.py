"""Crafted S2EF LMDB entries: nothing in them runs, and the error names the file and the entry.

Every payload, if executed, creates ``marker`` in tmp_path (a shell ``touch``, Python code, or a
TorchScript ``__setstate__`` calling ``torch.save``). ``test_payloads_are_live`` shows that the
same bytes do create it through plain ``pickle.loads`` (or ``torch.load`` for the TorchScript
archive, the call the old reader made), so the refusals below are meaningful.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from bench.data.s2ef_lmdb import S2efShards, write_s2ef_lmdb
from bench.data.safe_pickle import UnsafePickleError
from bench.errors import DataError


# ---- handcrafted pickle opcodes (any module/name, nested calls) ----
def _g(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def _s(text: str) -> bytes:
    return b"X" + struct.pack("<I", len(text.encode())) + text.encode()


def _b(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def _call(fn: bytes, *args: bytes) -> bytes:
    return fn + b"(" + b"".join(args) + b"tR"


def _pickle(expr: bytes) -> bytes:
    return b"\x80\x02" + expr + b"."


def _import(module: str) -> bytes:
    return _call(_g("builtins", "__import__"), _s(module))


def _shell(marker: Path) -> str:
    return f"touch {marker}"


def _py(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


class _Reduce:
    """Pickles as ``fn(*args)`` (fn must be importable by name)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def _storage(n: int = 3) -> torch.storage.TypedStorage:
    return torch.arange(float(n)).storage()


def _rebuild(*args) -> bytes:
    return pickle.dumps(_Reduce(torch._utils._rebuild_tensor_v2, *args), protocol=2)


def _legacy(storage) -> bytes:
    buf = io.BytesIO()
    torch.save(storage, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def _from_bytes(data: bytes) -> bytes:
    return _pickle(_call(_g("torch.storage", "_load_from_bytes"), _b(data)))


def _legacy_head() -> bytes:
    """The three leading pickles of torch's legacy layout (magic, version, system info)."""
    return _legacy(_storage()).split(b".\x80\x02(", 1)[0] + b"."


def _storage_ref(typename: str, view: bytes = b"N") -> bytes:
    ref = b"(" + _s(typename) + _g("torch", "FloatStorage") + _s("k") + _s("cpu") + b"K\x03"
    return b"\x80\x02" + ref + view + b"tQ." + pickle.dumps(["k"], protocol=2)


#: name -> payload(marker) (bytes of one LMDB value); the "live" ones run through pickle.loads
LIVE = {
    "posix_system": lambda m: _pickle(_call(_g("posix", "system"), _s(_shell(m)))),
    "os_system": lambda m: _pickle(_call(_g("os", "system"), _s(_shell(m)))),
    "subprocess_call": lambda m: _pickle(
        _call(_g("subprocess", "call"), b"](" + _s("touch") + _s(str(m)) + b"e")
    ),
    "builtins_eval": lambda m: _pickle(_call(_g("builtins", "eval"), _s(_py(m)))),
    "builtins_exec": lambda m: _pickle(_call(_g("builtins", "exec"), _s(_py(m)))),
    "py2_builtin_alias": lambda m: _pickle(_call(_g("__builtin__", "eval"), _s(_py(m)))),
    "getattr_import": lambda m: _pickle(
        _call(_call(_g("builtins", "getattr"), _import("os"), _s("system")), _s(_shell(m)))
    ),
    "import_module": lambda m: _pickle(
        _call(
            _call(
                _g("builtins", "getattr"),
                _call(_g("importlib", "import_module"), _s("os")),
                _s("system"),
            ),
            _s(_shell(m)),
        )
    ),
    "functools_partial": lambda m: _pickle(
        _call(_call(_g("functools", "partial"), _g("os", "system"), _s(_shell(m))))
    ),
    "operator_methodcaller": lambda m: _pickle(
        _call(_call(_g("operator", "methodcaller"), _s("system"), _s(_shell(m))), _import("os"))
    ),
    "nested_pickle_loads": lambda m: _pickle(
        _call(_g("pickle", "loads"), _b(_pickle(_call(_g("os", "system"), _s(_shell(m))))))
    ),
    "numpy_runstring": lambda m: _pickle(
        _call(_g("numpy.testing._private.utils", "runstring"), _s(_py(m)), b"}")
    ),
    "payload_inside_a_data": lambda m: pickle.dumps(
        Data(pos=torch.zeros(1, 3), extra=_Reduce(eval, _py(m)))
    ),
}
#: payloads refused by name before they could be called (no live control: they need a
#: platform module, or are refused for their arguments)
REFUSED = {
    "nt_system": lambda m: _pickle(_call(_g("nt", "system"), _s(_shell(m)))),
    "copyreg_reconstructor": lambda m: _pickle(
        _call(
            _g("copyreg", "_reconstructor"),
            _g("subprocess", "Popen"),
            _g("builtins", "object"),
            _s(_shell(m)),
        )
    ),
    "torch_load_global": lambda m: _pickle(_call(_g("torch.serialization", "load"), _s(str(m)))),
    "torch_jit_load_global": lambda m: _pickle(_call(_g("torch.jit", "load"), _s(str(m)))),
    "rebuild_from_type_v2": lambda m: _pickle(
        _call(
            _g("torch._tensor", "_rebuild_from_type_v2"),
            _g("posix", "system"),
            _g("builtins", "object"),
            b"(" + _s(_shell(m)) + b"t",
            b"}",
        )
    ),
    "inner_pickle_with_global": lambda m: _from_bytes(
        _pickle(_call(_g("os", "system"), _s(_shell(m))))
    ),
    "inner_storage_ref_with_global": lambda m: _from_bytes(
        _legacy_head() + _pickle(_call(_g("os", "system"), _s(_shell(m))))
    ),
    "inner_module_persistent_id": lambda m: _from_bytes(_legacy_head() + _storage_ref("module")),
    "inner_storage_view": lambda m: _from_bytes(
        _legacy_head() + _storage_ref("storage", b"(" + _s("k") + b"K\x00K\x01t")
    ),
    "storage_size_mismatch": lambda m: _from_bytes(
        _legacy(_storage()).replace(
            struct.pack("<q", 3) + b"\x00" * 4, struct.pack("<q", 9) + b"\x00" * 4
        )
    ),
    "storage_trailing_bytes": lambda m: _from_bytes(_legacy(_storage()) + b"\x00" * 8),
    "rebuild_from_a_string": lambda m: _rebuild(_shell(m), 0, (3,), (1,), False, OrderedDict()),
    "rebuild_stride0_memory_bomb": lambda m: _rebuild(
        _storage(), 0, (10**6, 10**6), (0, 0), False, OrderedDict()
    ),
    "rebuild_negative_offset": lambda m: _rebuild(_storage(), -2, (3,), (1,), False, OrderedDict()),
    "rebuild_out_of_bounds": lambda m: _rebuild(_storage(), 2, (3,), (1,), False, OrderedDict()),
    "rebuild_backward_hooks": lambda m: _rebuild(
        _storage(), 0, (3,), (1,), False, OrderedDict(hook=_shell(m))
    ),
    "rebuild_metadata": lambda m: _rebuild(
        _storage(), 0, (3,), (1,), False, OrderedDict(), {"x": _shell(m)}
    ),
    "rebuild_requires_grad_not_bool": lambda m: _rebuild(
        _storage(), 0, (3,), (1,), "yes", OrderedDict()
    ),
    "numpy_object_array": lambda m: pickle.dumps(Data(pos=np.array([_shell(m), 1], dtype=object))),
    "numpy_reconstruct_other_class": lambda m: _pickle(
        _call(
            _g("numpy.core.multiarray", "_reconstruct"),
            _g("collections", "OrderedDict"),
            b"(K\x00t",
            _b(b"b"),
        )
    ),
    "codecs_other_codec": lambda m: _pickle(
        _call(_g("_codecs", "encode"), _s(_shell(m)), _s("rot13"))
    ),
    "persistent_id": lambda m: b"\x80\x02" + _s(_shell(m)) + b"Q.",
}


@pytest.fixture
def lmdb_with(tmp_path, oc20_frames):
    """``lmdb_with(value)``: an S2EF LMDB of two good entries whose entry "1" is ``value``."""

    def make(value: bytes) -> Path:
        path = write_s2ef_lmdb(tmp_path / "evil.lmdb", oc20_frames[:2])
        env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
        with env.begin(write=True) as txn:
            txn.put(b"1", value)
        env.close()
        return path

    return make


def _assert_refused(path: Path, marker: Path) -> DataError:
    with pytest.raises(DataError) as info:
        S2efShards([path]).read([0, 1])
    assert info.value.path == str(path) and info.value.field == "entry 1", str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists()
    return info.value


@pytest.mark.parametrize("name", sorted(LIVE) + sorted(REFUSED))
def test_payload_refused_and_nothing_ran(lmdb_with, tmp_path, name):
    marker = tmp_path / "marker"
    err = _assert_refused(lmdb_with({**LIVE, **REFUSED}[name](marker)), marker)
    assert isinstance(err.__cause__, UnsafePickleError), err  # refused, not merely garbled


def test_torchscript_archive_in_a_storage_is_refused(lmdb_with, tmp_path, torchscript_zip):
    marker = tmp_path / "marker"
    err = _assert_refused(lmdb_with(_from_bytes(torchscript_zip(marker))), marker)
    assert "zip archive" in err.message


def test_torchscript_payload_is_live(tmp_path, torchscript_zip):
    """The archive writes its marker through torch.load, the call the old reader made."""
    marker = tmp_path / "marker"
    with pytest.raises(RuntimeError):  # __setstate__ leaves the module half-built, then fails
        torch.load(io.BytesIO(torchscript_zip(marker)), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("name", sorted(LIVE))
def test_payloads_are_live(tmp_path, name):
    marker = tmp_path / "marker"
    try:
        pickle.loads(LIVE[name](marker))
    except Exception:  # some gadgets fail after they ran (e.g. a non-str return)
        pass
    assert marker.exists()


def test_fairchem_entries_still_load(tmp_path, oc20_frames):
    """Real layout: Data with float32 tensors (storages as legacy bytes), protocol 2 and 5."""
    path = write_s2ef_lmdb(tmp_path / "ok.lmdb", oc20_frames[:2])
    back = S2efShards([path]).read([0, 1])
    np.testing.assert_allclose(back[1].pos, oc20_frames[1].pos, atol=1e-5)
    data = Data(pos=torch.tensor(oc20_frames[0].pos), y=1.0)
    for protocol in (2, 5):
        env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
        with env.begin(write=True) as txn:
            entry = pickle.loads(txn.get(b"0"))
            entry.pos = data.pos.T.contiguous().T  # a non-contiguous (strided) tensor
            txn.put(b"0", pickle.dumps(entry, protocol=protocol))
        env.close()
        (s,) = S2efShards([path]).read([0])
        np.testing.assert_array_equal(s.pos, data.pos.numpy())


def test_handcrafted_legacy_storage_loads():
    """The crafted storage pickles above differ from a valid one only in what they test."""
    from bench.data.torch_legacy import storage_from_legacy_bytes

    data = struct.pack("<q", 3) + np.arange(3, dtype=np.float32).tobytes()
    storage = storage_from_legacy_bytes(_legacy_head() + _storage_ref("storage") + data)
    assert storage.data.tolist() == [0.0, 1.0, 2.0]
    assert storage_from_legacy_bytes(_legacy(_storage())).data.tolist() == [0.0, 1.0, 2.0]
