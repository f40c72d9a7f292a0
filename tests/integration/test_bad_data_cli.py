"""Bad data files through the CLI: exit 2, one stderr line naming the file and the field.

`bench data info` on one file per kind of defect, and `bench run` (ci preset, one step) on a
few: no traceback, nothing executed from the file. (The unit suites test_fuzz_inputs.py and
test_malicious_lmdb.py cover each reader case by case; this checks the path to the user.)
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from bench.data.ase_files import read_ase_file
from bench.data.s2ef_lmdb import write_s2ef_lmdb

DATA = Path(__file__).resolve().parents[1] / "data"
TRAJ = DATA / "oc20_relax" / "random1000156.traj"
ETH = "rmd17_ethanol_train_01.npz"


def _bench(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from bench.cli import main; main()", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def _assert_one_line_error(proc: subprocess.CompletedProcess, file: Path, field: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(file) in lines[0] and field in lines[0], lines[0]
    return lines[0]


# ---- builders: (tmp folder) -> (CLI arguments naming the data, bad file, field, pattern)
def _rmd17(tmp: Path, edit) -> tuple[list[str], Path]:
    (tmp / "rmd17").mkdir()
    for name in (ETH, ETH.replace("train", "test")):
        shutil.copy(DATA / "rmd17" / name, tmp / "rmd17" / name)
    path = tmp / "rmd17" / ETH
    edit(path)
    args = ["rmd17", "-m", "ethanol", "--labels", "revised", "--data-root", str(tmp)]
    return args, path


def _edit_npz(key, fn):
    def edit(path):
        d = dict(np.load(path))
        d[key] = fn(d[key])
        np.savez(path, **d)

    return edit


def _nan_coords(a):
    a = a.copy()
    a[5, 3, 1] = np.nan
    return a


def _ase(tmp: Path, name: str, edit) -> tuple[list[str], Path]:
    frames = read(TRAJ, index=":2")
    a = frames[1]
    energy, forces = a.get_potential_energy(), a.get_forces(apply_constraint=False)
    a.calc = None
    edit(a)
    a.calc = SinglePointCalculator(a, energy=energy, forces=forces)
    path = tmp / name
    write(path, frames)
    return ["ase", "--path", str(path)], path


def _set_positions(index, value):
    def edit(a):
        pos = a.positions
        pos[index] = value
        a.positions = pos

    return edit


def _lmdb(tmp: Path, value) -> tuple[list[str], Path]:
    path = write_s2ef_lmdb(tmp / "data.lmdb", read_ase_file(TRAJ)[:2])
    env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        data = pickle.loads(txn.get(b"1"))
        out = value(data)  # edits data in place, or returns the bytes to store
        txn.put(b"1", out if isinstance(out, bytes) else pickle.dumps(data))
    env.close()
    return ["oc20", "--path", str(path)], path


def _tiny_cell(data):
    data.cell = torch.eye(3).reshape(1, 3, 3) * 0.2


def _natoms(data):
    data.natoms = data.natoms + 3


CASES = {
    "npz_strings": (
        lambda t: _rmd17(t, _edit_npz("coords", lambda a: a.astype(str))),
        "'coords'",
        "got strings",
    ),
    "npz_nan_coords": (
        lambda t: _rmd17(t, _edit_npz("coords", _nan_coords)),
        "'coords'",
        "NaN or inf",
    ),
    "npz_plain_npy": (
        lambda t: _rmd17(t, lambda p: p.write_bytes(_npy_bytes(p))),
        "",  # a file-level error: no field
        "a single .npy array",
    ),
    "npz_random_bytes": (
        lambda t: _rmd17(t, lambda p: p.write_bytes(np.random.default_rng(0).bytes(3000))),
        "",
        "no zip header",
    ),
    "npz_one_frame": (
        lambda t: _rmd17(t, _edit_npz_all(lambda a: a[:1])),
        "'n_train",
        "only 1 structures",
    ),
    "extxyz_X_atom": (
        lambda t: _ase(t, "f.xyz", _zero_first),
        "'numbers (frame 1)'",
        "outside 1..118",
    ),
    "extxyz_nan_position": (
        lambda t: _ase(t, "f.xyz", _set_positions((2, 0), np.nan)),
        "'positions (frame 1)'",
        "NaN or inf",
    ),
    "traj_coincident_atoms": (
        lambda t: _ase(t, "f.traj", _copy_atom(3, 7)),
        "'positions (frame 1)'",
        "atoms 3 and 7 are 0 Angstrom",
    ),
    "db_tiny_cell": (
        lambda t: _ase(t, "f.db", lambda a: setattr(a, "cell", np.eye(3) * 0.2)),
        "'cell (frame 1)'",
        "tiny cell",
    ),
    "lmdb_entry_int": (
        lambda t: _lmdb(t, lambda d: pickle.dumps(7)),
        "'entry 1'",
        "not a torch_geometric Data",
    ),
    "lmdb_tiny_cell": (lambda t: _lmdb(t, _tiny_cell), "'entry 1: cell'", "tiny cell"),
    "lmdb_natoms": (lambda t: _lmdb(t, _natoms), "'entry 1: natoms'", "says"),
}


def _npy_bytes(path: Path) -> bytes:
    npy = path.with_suffix(".npy")
    np.save(npy, np.load(path)["coords"])
    return npy.read_bytes()


def _edit_npz_all(fn):
    def edit(path):
        d = {k: v if k == "nuclear_charges" else fn(v) for k, v in np.load(path).items()}
        np.savez(path, **d)

    return edit


def _zero_first(a):
    z = a.numbers
    z[0] = 0
    a.numbers = z


def _copy_atom(src, dst):
    def edit(a):
        pos = a.positions
        pos[dst] = pos[src]
        a.positions = pos

    return edit


class _Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


SIZES = ("--n-train", "1", "--n-val", "1")


#: run in the default suite (one or two per reader); the others are marked slow
DEFAULT = {
    "npz_strings",
    "npz_plain_npy",
    "npz_one_frame",
    "extxyz_nan_position",
    "db_tiny_cell",
}


@pytest.mark.parametrize(
    "case",
    [c if c in DEFAULT else pytest.param(c, marks=pytest.mark.slow) for c in sorted(CASES)],
)
def test_data_info_refuses_bad_file(tmp_path, case):
    build, field, match = CASES[case]
    args, path = build(tmp_path)
    line = _assert_one_line_error(_bench("data", "info", *args, *SIZES), path, field)
    assert re.search(match, line), line


def _torchscript_lmdb(tmp: Path, torchscript_zip) -> tuple[list[str], Path, Path]:
    marker = tmp / "marker"
    payload = pickle.dumps(_Reduce(torch.storage._load_from_bytes, torchscript_zip(marker)))
    args, path = _lmdb(tmp, lambda d: payload)
    return args, path, marker


def test_data_info_runs_nothing_from_a_torchscript_lmdb(tmp_path, torchscript_zip):
    args, path, marker = _torchscript_lmdb(tmp_path, torchscript_zip)
    line = _assert_one_line_error(_bench("data", "info", *args, *SIZES), path, "'entry 1'")
    assert "zip archive" in line and not marker.exists()


def _run(data_args: list[str], results: Path) -> subprocess.CompletedProcess:
    dataset, *rest = data_args
    rest = ["--molecule" if a == "-m" else a for a in rest]
    return _bench(
        "run",
        "--backbone",
        "schnet",
        "--method",
        "none",
        "--dataset",
        dataset,
        *rest,
        "--max-steps",
        "1",
        "--results",
        str(results),
        "--set",
        "data.n_train=1",
        "--set",
        "data.n_val=1",
    )


def _no_run_directory(results: Path) -> None:
    """Bad data is refused before the run directory exists."""
    assert not results.exists() or not any(results.iterdir()), sorted(results.iterdir())


def test_bench_run_refuses_nan_coordinates(tmp_path):
    args, path = _rmd17(tmp_path, _edit_npz("coords", _nan_coords))
    proc = _run(args, tmp_path / "results")
    line = _assert_one_line_error(proc, path, "'coords'")
    assert "NaN or inf" in line
    _no_run_directory(tmp_path / "results")


@pytest.mark.slow
def test_bench_run_runs_nothing_from_a_torchscript_lmdb(tmp_path, torchscript_zip):
    args, path, marker = _torchscript_lmdb(tmp_path, torchscript_zip)
    proc = _run(args, tmp_path / "results")
    _assert_one_line_error(proc, path, "'entry 1'")
    assert not marker.exists()
    _no_run_directory(tmp_path / "results")


@pytest.mark.slow
def test_bench_run_names_the_file_without_label_spread(tmp_path):
    """One train structure: zero energy spread; the error names the file it came from."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read, write

    slab = read(TRAJ, index=0)  # as a molecule: periodic fixed-atom slabs are refused as `ase`
    mol = Atoms(slab.numbers, slab.positions)
    mol.calc = SinglePointCalculator(
        mol, energy=slab.get_potential_energy(), forces=slab.get_forces(apply_constraint=False)
    )
    path = tmp_path / "one.traj"
    write(path, [mol] * 3)
    proc = _run(["ase", "--path", str(path), "--set", "train.batch_size=1"], tmp_path / "results")
    line = _assert_one_line_error(proc, path, "'energy'")
    assert "zero energy or force spread" in line
