import os
import pickle

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from bench.data.safe_pickle import UnsafePickleError, restricted_loads


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_fairchem_style_data_round_trips():
    data = Data(
        pos=torch.randn(4, 3),
        atomic_numbers=torch.tensor([1.0, 6.0, 8.0, 29.0]),
        natoms=4,
        fixed=torch.tensor([0.0, 0.0, 1.0, 1.0]),
        y=-1.25,
        arr=np.arange(3.0),
        sid=np.int64(7),
    )
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        out = restricted_loads(pickle.dumps(data, protocol=protocol))
        assert torch.equal(out.pos, data.pos) and out.y == -1.25 and out.sid == 7
        np.testing.assert_array_equal(out.arr, data.arr)


def test_payload_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsCode(marker))
    with pytest.raises(UnsafePickleError, match="system"):
        restricted_loads(payload)
    assert not marker.exists()
    pickle.loads(payload)  # control: the same bytes do run code through plain pickle
    assert marker.exists()


def test_payload_hidden_in_a_tensor_storage_is_refused(tmp_path):
    """torch pickles storages as nested bytes; those must not reach an unrestricted load."""
    marker = tmp_path / "pwned"
    inner = pickle.dumps(_RunsCode(marker))

    class _Storage:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (inner,))

    with pytest.raises(UnsafePickleError):
        restricted_loads(pickle.dumps(_Storage()))
    assert not marker.exists()


def test_other_globals_are_refused():
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        restricted_loads(pickle.dumps(eval))
