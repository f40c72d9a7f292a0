"""Bad input files for every reader: each gives one DataError naming the file and the field.

Parametrised cases over npz (rMD17 layout), extended XYZ, ASE .traj, ASE db and S2EF LMDB,
plus a hypothesis fuzz of npz arrays and extxyz text: whatever the bytes, a reader returns
structures that pass every check, or raises DataError naming the file; nothing else.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.data.ase_files import read_ase_file
from bench.data.checks import MIN_DISTANCE
from bench.data.registry import DatasetSpec, load_splits
from bench.data.rmd17 import read_rmd17_file
from bench.data.s2ef_lmdb import S2efShards, write_s2ef_lmdb
from bench.errors import DataError

ETH = "rmd17_ethanol_test_01.npz"


def assert_data_error(fn: Callable, path: Path, field: str | None, match: str) -> DataError:
    """``fn()`` raises one DataError naming ``path`` (the file itself) and ``field``."""
    with pytest.raises(DataError) as info:
        fn()
    err = info.value
    assert err.path == str(path), str(err)
    if field is None:
        assert err.field is None, str(err)
    else:
        assert field in (err.field or ""), str(err)
    assert re.search(match, err.message), str(err)
    assert "\n" not in str(err) and "allow_pickle" not in str(err)
    return err


# ---------------------------------------------------------------- npz (rMD17 layout)
@pytest.fixture(scope="module")
def eth() -> dict[str, np.ndarray]:
    """Four frames of the shipped rMD17 ethanol file."""
    d = np.load(Path(__file__).parents[2] / "data" / "rmd17" / ETH)
    return {k: d[k] if d[k].ndim == 1 and k == "nuclear_charges" else d[k][:4] for k in d.files}


def _set(key, fn):
    def edit(d):
        d[key] = fn(d[key])

    return edit


def _put(key, index, value):
    def fn(a):
        a = a.astype(np.float64).copy()
        a[index] = value
        return a

    return _set(key, fn)


def _drop(key):
    return lambda d: d.pop(key)


def _all(*edits):
    def edit(d):
        for e in edits:
            e(d)

    return edit


NPZ_ARRAY_CASES = {
    "coords_strings": (_set("coords", lambda a: a.astype(str)), "coords", "got strings"),
    "coords_bytes": (_set("coords", lambda a: a.astype("S8")), "coords", "got bytes"),
    "coords_bool": (_set("coords", lambda a: a > 0), "coords", "got booleans"),
    "coords_complex": (_set("coords", lambda a: a + 1j), "coords", "got complex"),
    "energies_strings": (_set("energies", lambda a: a.astype(str)), "energies", "got strings"),
    "forces_complex": (_set("forces", lambda a: a * 1j), "forces", "got complex"),
    "z_strings": (
        _set("nuclear_charges", lambda a: a.astype(str)),
        "nuclear_charges",
        "got strings",
    ),
    "z_bool": (_set("nuclear_charges", lambda a: a > 1), "nuclear_charges", "got booleans"),
    "z_fractional": (_put("nuclear_charges", 0, 1.5), "nuclear_charges", "must be integers"),
    "z_zero": (_put("nuclear_charges", 2, 0), "nuclear_charges", r"outside 1\.\.118: \[0"),
    "z_119": (_put("nuclear_charges", 2, 119), "nuclear_charges", "outside 1..118"),
    "z_negative": (_put("nuclear_charges", 2, -6), "nuclear_charges", "outside 1..118"),
    "old_indices_float": (
        _set("old_indices", lambda a: a + 0.5),
        "old_indices",
        "expected integers, got real",
    ),
    "old_indices_strings": (
        _set("old_indices", lambda a: a.astype(str)),
        "old_indices",
        "expected integers, got strings",
    ),
    "old_indices_length": (
        _set("old_indices", lambda a: a[:2]),
        "old_indices",
        "different frame count",
    ),
    "coords_nan": (_put("coords", (1, 2, 0), np.nan), "coords", r"NaN or inf .*\(1, 2, 0\)"),
    "coords_inf": (_put("coords", (3, 0, 1), -np.inf), "coords", "NaN or inf"),
    "coords_float32_overflow": (_put("coords", (2, 1, 1), 1e39), "coords", "overflows float32"),
    "forces_float32_overflow": (_put("forces", (0, 0, 0), -3e39), "forces", "overflows float32"),
    "energies_float32_overflow": (_put("energies", 1, 1e39), "energies", "overflows float32"),
    "energies_nan": (_put("energies", 3, np.nan), "energies", "NaN or inf"),
    "coords_last_axis_2": (
        _set("coords", lambda a: a[..., :2]),
        "coords",
        r"expected shape \(\*, 9, 3\)",
    ),
    "coords_2d": (_set("coords", lambda a: a[:, 0]), "coords", "expected shape"),
    "forces_atoms_mismatch": (_set("forces", lambda a: a[:, :5]), "forces", "expected shape"),
    "energies_length": (_set("energies", lambda a: a[:3]), "energies", r"expected shape \(4,\)"),
    "zero_frames": (
        _all(*(_set(k, lambda a: a[:0]) for k in ("coords", "energies", "forces", "old_indices"))),
        "coords",
        "no frames",
    ),
    "zero_atoms": (
        _all(
            _set("nuclear_charges", lambda a: a[:0]),
            _set("coords", lambda a: a[:, :0]),
            _set("forces", lambda a: a[:, :0]),
        ),
        "nuclear_charges",
        "no atoms",
    ),
    "coincident_atoms": (
        _set("coords", lambda a: _coincide(a, 2, 3, 7)),
        "coords",
        "frame 2: atoms 3 and 7 are 0 Angstrom apart",
    ),
    "near_coincident_atoms": (
        _set("coords", lambda a: _coincide(a, 0, 0, 1, 0.05)),
        "coords",
        "frame 0: atoms 0 and 1 are 0.05 Angstrom",
    ),
    "object_array": (
        _set("forces", lambda a: a.astype(object)),
        "forces",
        "pickled Python objects",
    ),
    "missing_forces": (_drop("forces"), "forces", "missing key"),
    "missing_old_indices": (_drop("old_indices"), "old_indices", "missing key"),
}


def _coincide(a, frame, i, j, shift=0.0):
    a = a.copy()
    a[frame, j] = a[frame, i] + [shift, 0.0, 0.0]
    return a


def _write_npz(path: Path, d: dict) -> Path:
    np.savez(path, **d)  # allow_pickle: object arrays are written as pickles
    return path


@pytest.mark.parametrize("case", sorted(NPZ_ARRAY_CASES))
def test_bad_npz_arrays(tmp_path, eth, case):
    edit, field, match = NPZ_ARRAY_CASES[case]
    d = {k: v.copy() for k, v in eth.items()}
    edit(d)
    path = _write_npz(tmp_path / ETH, d)
    assert_data_error(lambda: read_rmd17_file(path, "ethanol", "revised"), path, field, match)


NPZ_FILE_CASES = {
    "plain_npy": (
        lambda p, d: np.save(p.with_suffix(".npy"), d["coords"]) or p.with_suffix(".npy").rename(p),
        "a single .npy array",
    ),
    "random_bytes": (
        lambda p, d: p.write_bytes(np.random.default_rng(0).bytes(4096)),
        "no zip header",
    ),
    "pickle": (lambda p, d: p.write_bytes(pickle.dumps(d)), "a Python pickle"),
    "empty": (lambda p, d: p.write_bytes(b""), "empty file"),
    "truncated": (
        lambda p, d: _write_npz(p, d) and p.write_bytes(p.read_bytes()[:700]),
        "not a readable npz",
    ),
    "sqlite": (
        lambda p, d: p.write_bytes(b"SQLite format 3\x00" + bytes(100)),
        "an SQLite database",
    ),
    "gzip": (lambda p, d: p.write_bytes(gzip.compress(b"x" * 100)), "gzip-compressed"),
    "hdf5": (lambda p, d: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)), "an HDF5 file"),
    "text": (lambda p, d: p.write_text("coords 1 2 3\n"), "no zip header"),
}


@pytest.mark.parametrize("case", sorted(NPZ_FILE_CASES))
def test_npz_that_is_not_an_npz(tmp_path, eth, case):
    make, match = NPZ_FILE_CASES[case]
    path = tmp_path / ETH
    make(path, dict(eth))
    assert_data_error(lambda: read_rmd17_file(path, "ethanol", "revised"), path, None, match)


@pytest.mark.parametrize("n_frames", [0, 1])
def test_empty_or_one_frame_npz_names_the_file(tmp_path, eth, n_frames):
    (tmp_path / "rmd17").mkdir()
    path = _write_npz(
        tmp_path / "rmd17" / ETH,
        {k: v if k == "nuclear_charges" else v[:n_frames] for k, v in eth.items()},
    )
    spec = DatasetSpec("rmd17", data_root=tmp_path, molecule="ethanol", n_train=1, n_val=1)
    match = "no frames" if n_frames == 0 else "only 1 structures"
    assert_data_error(
        lambda: load_splits(spec), path, "coords" if n_frames == 0 else "n_train", match
    )


# ---------------------------------------------------------------- ASE: extxyz, traj, db
def _molecules(eth) -> list[Atoms]:
    frames = []
    for i in range(3):
        a = Atoms(numbers=eth["nuclear_charges"], positions=eth["coords"][i])
        _label(a, float(eth["energies"][i]) * 0.0434, eth["forces"][i] * 0.0434)
        frames.append(a)
    return frames


def _label(a: Atoms, energy, forces) -> Atoms:
    a.calc = SinglePointCalculator(a, energy=energy, forces=forces)
    return a


def _edit_frame(fn: Callable[[Atoms], None]) -> Callable[[list[Atoms]], None]:
    """Apply ``fn`` to frame 1, keeping its labels attached."""

    def edit(frames):
        a = frames[1]
        energy, forces = a.get_potential_energy(), a.get_forces()
        a.calc = None
        fn(a)
        _label(a, energy, forces)

    return edit


def _positions(index, value):
    def fn(a):
        pos = a.positions
        pos[index] = value
        a.positions = pos

    return _edit_frame(fn)


def _numbers(index, value):
    def fn(a):
        z = a.numbers
        z[index] = value
        a.numbers = z

    return _edit_frame(fn)


def _relabel(energy=None, forces=None):
    def edit(frames):
        a = frames[1]
        e = a.get_potential_energy() if energy is None else energy
        f = a.get_forces() if forces is None else forces(a.get_forces())
        _label(a, e, f)

    return edit


def _periodic(cell, shift_atom=None):
    def fn(a):
        a.cell, a.pbc = cell, True
        if shift_atom is not None:  # atom 1 onto a periodic image of atom 0
            pos = a.positions
            pos[1] = pos[0] + np.asarray(cell)[shift_atom]
            a.positions = pos

    return _edit_frame(fn)


def _zero_atoms(frames):
    frames[1] = _label(Atoms(), 0.0, np.zeros((0, 3)))


def _unlabelled(frames):
    frames[1].calc = None


def _forces_value(index, value):
    def fn(f):
        f = f.copy()
        f[index] = value
        return f

    return fn


#: name -> (edit of the frame list, field (with its frame), message pattern)
ASE_CASES = {
    "z_zero_X": (_numbers(2, 0), "numbers (frame 1)", r"outside 1\.\.118: \[0"),
    "positions_nan": (_positions((3, 1), np.nan), "positions (frame 1)", "NaN or inf"),
    "positions_float32_overflow": (
        _positions((0, 0), 1e39),
        "positions (frame 1)",
        "overflows float32",
    ),
    "coincident_atoms": (
        _edit_frame(lambda a: setattr(a, "positions", _copy_row(a.positions, 2, 4))),
        "positions (frame 1)",
        "atoms 2 and 4 are 0 Angstrom apart",
    ),
    "forces_inf": (
        _relabel(forces=_forces_value((2, 2), np.inf)),
        "forces (frame 1)",
        "NaN or inf",
    ),
    "forces_float32_overflow": (
        _relabel(forces=_forces_value((0, 1), 5e38)),
        "forces (frame 1)",
        "overflows float32",
    ),
    "energy_nan": (
        _relabel(energy=float("nan")),
        "energy (frame 1)",
        "NaN or inf|missing",
    ),  # ASE db stores a NaN energy as NULL
    "energy_float32_overflow": (_relabel(energy=1e39), "energy (frame 1)", "overflows float32"),
    "singular_cell": (
        _periodic([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 0]]),
        "cell (frame 1)",
        "singular cell",
    ),
    "tiny_cell": (_periodic(np.eye(3) * 0.2), "cell (frame 1)", "tiny cell"),
    "flat_cell": (
        _periodic([[8.0, 0, 0], [0, 8.0, 0], [7.9, 0, 0.3]]),
        "cell (frame 1)",
        "tiny cell",
    ),
    "dense_cell": (_periodic(np.eye(3) * 1.5), "cell (frame 1)", "9 atoms in a cell of 3.38"),
    "coincident_periodic_image": (
        _periodic(np.eye(3) * 6.0, shift_atom=0),
        "positions (frame 1)",
        "atoms 0 and 1 are",
    ),
    "zero_atoms": (_zero_atoms, "numbers (frame 1)", "no atoms"),
    "no_labels": (_unlabelled, "energy (frame 1)", "missing"),
}


def _copy_row(pos, src, dst):
    pos = pos.copy()
    pos[dst] = pos[src]
    return pos


ASE_FORMATS = {"extxyz": "frames.xyz", "traj": "frames.traj", "db": "frames.db"}


@pytest.mark.parametrize("fmt", sorted(ASE_FORMATS))
@pytest.mark.parametrize("case", sorted(ASE_CASES))
def test_bad_ase_frames(tmp_path, eth, fmt, case):
    edit, field, match = ASE_CASES[case]
    if fmt == "db" and case == "zero_atoms":
        pytest.skip("ASE db cannot store a 0-atom row with forces")
    frames = _molecules(eth)
    edit(frames)
    path = tmp_path / ASE_FORMATS[fmt]
    write(path, frames, format=fmt)
    assert_data_error(lambda: read_ase_file(path), path, field, match)


ASE_FILE_CASES = {
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "random_bytes": (
        lambda p: p.write_bytes(np.random.default_rng(1).bytes(2048)),
        "ASE cannot read it",
    ),
    "truncated": (
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        "ASE cannot read it|no frames",
    ),
}


@pytest.mark.parametrize("fmt", sorted(ASE_FORMATS))
@pytest.mark.parametrize("case", sorted(ASE_FILE_CASES))
def test_broken_ase_files(tmp_path, eth, fmt, case):
    path = tmp_path / ASE_FORMATS[fmt]
    write(path, _molecules(eth), format=fmt)
    make, match = ASE_FILE_CASES[case]
    make(path)
    assert_data_error(lambda: read_ase_file(path), path, None, match)


@pytest.mark.parametrize(
    ("old", "new", "field", "match"),
    [
        ("energy=", "energy=abc junk=", "energy (frame 0)", "missing|expected real numbers"),
        ("H ", "X ", "numbers (frame 0)", r"outside 1\.\.118: \[0"),
    ],
)
def test_non_numeric_extxyz_text(tmp_path, eth, old, new, field, match):
    path = tmp_path / "frames.xyz"
    write(path, _molecules(eth)[:1], format="extxyz")
    path.write_text(path.read_text().replace(old, new, 1))
    assert_data_error(lambda: read_ase_file(path), path, field, match)


# ---------------------------------------------------------------- S2EF LMDB
@pytest.fixture
def lmdb_entry(tmp_path, oc20_frames):
    """``lmdb_entry(edit)``: an S2EF LMDB whose entry "1" is ``edit(data)`` (or ``data``)."""

    def make(edit: Callable) -> Path:
        path = write_s2ef_lmdb(tmp_path / "data.lmdb", oc20_frames[:2])
        env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
        with env.begin(write=True) as txn:
            data = pickle.loads(txn.get(b"1"))
            out = edit(data)  # None: edited in place; (obj,): replaced by obj
            txn.put(b"1", pickle.dumps(data if out is None else out[0]))
        env.close()
        return path

    return make


def _attr(name, fn):
    return lambda d: setattr(d, name, fn(getattr(d, name)))


def _tensor_put(name, index, value, dtype=None):
    def fn(t):
        t = t.clone() if dtype is None else t.to(dtype)
        t[index] = value
        return t

    return _attr(name, fn)


def _image_of_atom0(d):
    d.pos[1] = d.pos[0] + d.cell[0, 1]


#: name -> (edit of entry 1's Data, or a replacement object; field; message pattern)
LMDB_CASES = {
    "entry_int": (lambda d: (7,), "entry 1", "not a torch_geometric Data object \\(got int\\)"),
    "entry_none": (lambda d: (None,), "entry 1", "got NoneType"),
    "entry_list": (lambda d: ([d],), "entry 1", "got list"),
    "entry_dict": (lambda d: ({"pos": d.pos},), "entry 1", "got dict"),
    "entry_ndarray": (lambda d: (np.zeros(3),), "entry 1", "got ndarray"),
    "entry_str": (lambda d: ("pos",), "entry 1", "got str"),
    "natoms_wrong": (_attr("natoms", lambda n: n + 1), "entry 1: natoms", "says \\[50\\] atoms"),
    "natoms_string": (_attr("natoms", lambda n: "49"), "entry 1: natoms", "got strings"),
    "natoms_float": (_attr("natoms", lambda n: 49.0), "entry 1: natoms", "expected integers"),
    "tiny_cell": (
        _attr("cell", lambda c: torch.eye(3).reshape(1, 3, 3) * 0.2),
        "entry 1: cell",
        "tiny cell .*0.2 Angstrom",
    ),
    "singular_cell": (
        _attr("cell", lambda c: torch.zeros(1, 3, 3)),
        "entry 1: cell",
        "singular cell",
    ),
    "cell_shape": (_attr("cell", lambda c: c[:, :2]), "entry 1: cell", "expected shape"),
    "cell_nan": (_tensor_put("cell", (0, 1, 1), torch.nan), "entry 1: cell", "NaN or inf"),
    "pos_nan": (_tensor_put("pos", (3, 0), torch.nan), "entry 1: pos", "NaN or inf"),
    "pos_float32_overflow": (
        _tensor_put("pos", (3, 0), 1e39, torch.float64),
        "entry 1: pos",
        "overflows float32",
    ),
    "force_inf": (_tensor_put("force", (0, 2), torch.inf), "entry 1: force", "NaN or inf"),
    "y_nan": (_attr("y", lambda y: float("nan")), "entry 1: y", "NaN or inf"),
    "y_string": (_attr("y", lambda y: "-1.5"), "entry 1: y", "got strings"),
    "y_two_values": (_attr("y", lambda y: torch.tensor([y, y])), "entry 1: y", "expected shape"),
    "z_zero": (_tensor_put("atomic_numbers", 5, 0.0), "entry 1: atomic_numbers", "outside 1..118"),
    "z_fractional": (
        _tensor_put("atomic_numbers", 5, 6.5),
        "entry 1: atomic_numbers",
        "must be integers",
    ),
    "z_bool": (_attr("atomic_numbers", lambda z: z > 0), "entry 1: atomic_numbers", "got booleans"),
    "pos_complex": (_attr("pos", lambda p: p.to(torch.complex64)), "entry 1: pos", "got complex"),
    "pos_bfloat16": (_attr("pos", lambda p: p.to(torch.bfloat16)), "entry 1: pos", "bfloat16"),
    "pos_wrong_shape": (_attr("pos", lambda p: p[:, :2]), "entry 1: pos", "expected shape"),
    "zero_atoms": (lambda d: _empty_data(d), "entry 1: atomic_numbers", "no atoms"),
    "coincident_atoms": (
        lambda d: d.pos.__setitem__(7, d.pos[3]),
        "entry 1: pos",
        "atoms 3 and 7 are 0 Angstrom apart",
    ),
    "dense_cell": (
        _attr("cell", lambda c: torch.eye(3).reshape(1, 3, 3) * 3.0),
        "entry 1: cell",
        "49 atoms in a cell of 27",
    ),
    "coincident_periodic_image": (_image_of_atom0, "entry 1: pos", "atoms 0 and 1 are"),
    "tags_fractional": (
        _attr("tags", lambda t: t.double() + 0.5),
        "entry 1: tags",
        "must be integers",
    ),
    "fixed_length": (_attr("fixed", lambda f: f[:-2]), "entry 1: fixed", "expected shape"),
    "missing_z": (lambda d: delattr(d, "atomic_numbers"), "entry 1: atomic_numbers", "missing"),
    "malformed_store": (
        lambda d: d.__dict__.__setitem__("_store", {"pos": 1}),
        "entry 1",
        "malformed Data",
    ),
}


def _empty_data(d):
    d.pos, d.force = d.pos[:0], d.force[:0]
    d.atomic_numbers, d.tags, d.fixed, d.natoms = d.atomic_numbers[:0], d.tags[:0], d.fixed[:0], 0


@pytest.mark.parametrize("case", sorted(LMDB_CASES))
def test_bad_lmdb_entries(lmdb_entry, case):
    edit, field, match = LMDB_CASES[case]
    path = lmdb_entry(edit)
    assert_data_error(lambda: S2efShards([path]).read([0, 1]), path, field, match)


# ---------------------------------------------------------------- hypothesis fuzz
def _assert_valid(structures) -> None:
    """What a reader promises about every structure it returns (checked independently)."""
    for s in structures:
        assert s.n_atoms >= 1 and s.z.dtype == np.int64 and s.z.min() >= 1 and s.z.max() <= 118
        for arr in (s.pos, s.forces, np.array([s.energy])):
            assert np.isfinite(arr.astype(np.float32)).all()
        if not s.periodic and s.n_atoms > 1:
            dist = np.linalg.norm(s.pos[:, None] - s.pos[None], axis=-1)
            assert dist[np.triu_indices(s.n_atoms, 1)].min() >= MIN_DISTANCE


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 119.0, 1e39, -1e39, 1.5]),
)
_DTYPES = st.sampled_from([bool, np.int8, np.float16, np.complex64, str, "S4", object])
_FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FUZZ
@given(
    key=st.sampled_from(["nuclear_charges", "coords", "energies", "forces", "old_indices"]),
    how=st.sampled_from(["value", "dtype", "truncate"]),
    value=_VALUES,
    dtype=_DTYPES,
    pick=st.integers(0, 10**6),
)
def test_fuzz_npz_arrays(eth, key, how, value, dtype, pick):
    d = {k: v.copy() for k, v in eth.items()}
    a = d[key]
    if how == "value":
        a = a.astype(np.float64)
        a.reshape(-1)[pick % a.size] = value
    elif how == "dtype":
        a = a.astype(dtype)
    else:
        a = a[: pick % a.shape[0]]
    d[key] = a
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_npz(Path(tmp) / ETH, d)
        _read_or_data_error(lambda: read_rmd17_file(path, "ethanol", "revised"), path)


_TOKENS = st.sampled_from(["nan", "inf", "X", "0", "-", "1e39", "e", " ", "\n", "abc", "=", '"'])


@_FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 10**6), _TOKENS, st.integers(0, 3)), min_size=1, max_size=4
    )
)
def test_fuzz_extxyz_text(eth, edits):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.xyz"
        write(path, _molecules(eth)[:2], format="extxyz")
        text = path.read_text()
        for at, token, cut in edits:
            i = at % len(text)
            text = text[:i] + token + text[i + cut :]
        path.write_text(text)
        _read_or_data_error(lambda: read_ase_file(path), path)


def _read_or_data_error(fn: Callable, path: Path) -> None:
    try:
        structures = fn()
    except DataError as err:
        assert err.path == str(path) and "\n" not in str(err), str(err)
        return
    _assert_valid(structures)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (pickle.dumps(3), "says 3 entries, the file has 2"),
        (pickle.dumps(-1), "says -1 entries"),
        (pickle.dumps("2"), "expected an int, got str"),
        (pickle.dumps(2.0), "expected an int, got float"),
        (b"\x80\x04garbage", "unreadable"),
        (pickle.dumps(eval), "unreadable .*refusing to load global builtins.eval"),
    ],
)
def test_bad_lmdb_length_entry(lmdb_entry, value, match):
    path = lmdb_entry(lambda d: None)
    env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"length", value)
    env.close()
    assert_data_error(lambda: S2efShards([path]), path, "length", match)


class _Touch:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["evil.traj", "evil.xyz", "evil.db"])
def test_pickle_named_as_an_ase_file_runs_nothing(tmp_path, name):
    """ASE once read pickled trajectories; a pickle under an ASE suffix must not be loaded."""
    marker, path = tmp_path / "marker", tmp_path / name
    path.write_bytes(pickle.dumps(_Touch(marker), protocol=0))
    assert_data_error(lambda: read_ase_file(path), path, None, "ASE cannot read it")
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # control: the payload is live
    assert marker.exists()


@pytest.fixture(scope="module")
def lmdb_template(tmp_path_factory, oc20_frames) -> tuple[bytes, Path]:
    """A two-entry S2EF LMDB and the pickled bytes of its entry "1" (a real Data)."""
    path = write_s2ef_lmdb(tmp_path_factory.mktemp("lmdb") / "data.lmdb", oc20_frames[:2])
    env = lmdb.open(str(path), subdir=False, readonly=True, lock=False)
    with env.begin() as txn:
        raw = txn.get(b"1")
    env.close()
    return raw, path


@_FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6)
)
def test_fuzz_lmdb_entry_bytes(lmdb_template, edits):
    """Random bytes flipped in a pickled Data (tensor storages included): DataError naming the
    entry, or structures that pass every check."""
    raw, template = lmdb_template
    data = bytearray(raw)
    for at, value in edits:
        data[at % len(data)] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.lmdb"
        path.write_bytes(template.read_bytes())
        env = lmdb.open(str(path), subdir=False, map_size=1 << 24)
        with env.begin(write=True) as txn:
            txn.put(b"1", bytes(data))
        env.close()
        _read_or_data_error(lambda: S2efShards([path]).read([0, 1]), path)
