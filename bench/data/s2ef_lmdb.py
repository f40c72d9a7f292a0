"""fairchem S2EF LMDB (OC20, OC22): keys "0".."N-1", values pickled torch_geometric ``Data``.

Each entry holds pos [n, 3] (Angstrom), cell [1, 3, 3], atomic_numbers [n], natoms, tags [n],
fixed [n], y (energy, eV), force [n, 3] (eV/Angstrom), sid, fid. Entries are unpickled by
bench.data.safe_pickle (no code runs). OC20 S2EF ``y`` is the adsorption (referenced) energy;
OC22 ``y`` is the total energy.

Layout: ``spec.path`` (or ``<data_root>/oc20`` / ``oc22``) is an ``.lmdb`` file, a folder of
``.lmdb`` shards, or a folder with ``train/`` and ``val/`` shard folders and an optional
labelled ``test/``; instead of ``val/`` (``test/``) the published sub-split folders ``val_id/``,
``val_ood_ads/``, ``val_ood_cat/``, ``val_ood_both/`` (OC20) or ``val_ood/`` (OC22) are all read
into val (test), each structure keeping its sub-split (bench.data.oc20_subsplits). Without split
folders: seeded permutation, 80 % / 10 % / rest (``n_train`` / ``n_val`` override).
``max_structures`` reads only that many per split folder (so per sub-split).

Splits are lazy (bench.data.lazy.LazyStructures): an entry is read, unpickled and checked
when a split is indexed, so S2EF-2M opens in seconds and memory does not grow with the data.
Up to CHECK_AHEAD entries per split (all of a small split) are read when the splits are
opened, so bad data in a small set fails before a run starts; elsewhere a bad entry fails
the run when it is met, with a DataError naming the shard and the key.
"""

from __future__ import annotations

import os
import pickle
import weakref
from pathlib import Path

import lmdb
import numpy as np
import torch

from bench.data.checks import check_atomic_numbers, check_real, check_shape, check_structure
from bench.data.checksums import sha256_files
from bench.data.lazy import LazyStructures, bounded
from bench.data.oc20_subsplits import SUBSPLITS
from bench.data.paths import dataset_dir
from bench.data.registry import DatasetSpec, SplitData
from bench.data.safe_pickle import UnsafePickleError, restricted_loads
from bench.data.splits import random_split
from bench.data.structure import Structure
from bench.errors import DataError

DEFAULT_FRACTIONS = (0.8, 0.1)
#: Structure attribute -> the S2EF field name (used in error messages)
#: entries read (checked) per split when the splits are opened (bench.data.lazy.bounded)
CHECK_AHEAD = 500
_FIELDS = {"z": "atomic_numbers", "pos": "pos", "forces": "force", "cell": "cell"}


def load_oc20(spec: DatasetSpec) -> SplitData:
    """OC20 S2EF splits (referenced energies)."""
    return _load(spec, "oc20", "referenced")


def load_oc22(spec: DatasetSpec) -> SplitData:
    """OC22 S2EF splits (total energies)."""
    return _load(spec, "oc22", "total")


def _load(spec: DatasetSpec, name: str, energy_kind: str) -> SplitData:
    base = Path(spec.path) if spec.path is not None else dataset_dir(spec, name)
    if (base / "train").is_dir():
        splits, files = _from_split_folders(base, spec.max_structures)
    else:
        splits, files = _from_one_set(base, spec)
    for part in splits.values():
        check_ahead(part)
    return SplitData(
        train=splits["train"],
        val=splits.get("val", []),
        test=splits.get("test", []),
        periodic=True,
        energy_kind=energy_kind,
        sources=sha256_files(files),
    )


def check_ahead(split: LazyStructures) -> None:
    """Read (and so check) :func:`bench.data.lazy.bounded` ``(split, CHECK_AHEAD)``: all of a
    small split, a seeded sample of a large one, before a run starts; the other entries are
    checked when read."""
    for _ in bounded(split, CHECK_AHEAD):
        pass


def _from_split_folders(base: Path, limit: int | None) -> tuple[dict, list[Path]]:
    """train/, then val/ and test/ (optional); a missing val/ or test/ is replaced by every
    published sub-split folder present (``val_id/``, ``val_ood_ads/``, ``val_ood_cat/``,
    ``val_ood_both/``, ``val_ood/``; same for test), concatenated in that order. Shards are read
    in order; ``limit`` applies per folder."""
    folders = {"train": [base / "train"]}
    for split in ("val", "test"):
        whole = base / split
        folders[split] = (
            [whole] if whole.is_dir() else [base / f"{split}_{name}" for name in SUBSPLITS]
        )
    splits, files = {}, []
    for split, paths in folders.items():
        groups = [shard_files(p) for p in paths if p.is_dir()]
        if groups:
            reader = S2efShards([f for g in groups for f in g])
            splits[split] = LazyStructures(reader, _first_of_each(reader, groups, limit))
            files += reader.files
    return splits, files


def _first_of_each(reader: S2efShards, groups: list[list[Path]], limit: int | None):
    """Global indices of the first ``limit`` entries (all with None) of each folder's shards
    (``groups``, in the order ``reader.files`` holds them): a ``range`` for one folder (no
    memory per entry), else an int64 array."""
    parts, shard = [], 0
    for group in groups:
        start, stop = int(reader.starts[shard]), int(reader.starts[shard + len(group)])
        parts.append(range(start, stop if limit is None else min(stop, start + limit)))
        shard += len(group)
    return (
        parts[0] if len(parts) == 1 else np.concatenate([np.arange(r.start, r.stop) for r in parts])
    )


def _from_one_set(base: Path, spec: DatasetSpec) -> tuple[dict, list[Path]]:
    """One set of shards split by a seeded permutation."""
    reader = S2efShards(shard_files(base))
    n = len(reader)
    n_train = int(DEFAULT_FRACTIONS[0] * n) if spec.n_train is None else spec.n_train
    n_val = int(DEFAULT_FRACTIONS[1] * n) if spec.n_val is None else spec.n_val
    idx = random_split(n, n_train, n_val, spec.split_seed, base)
    lim = spec.max_structures
    splits = {
        k: LazyStructures(reader, i[:lim])
        for k, i in zip(("train", "val", "test"), idx, strict=True)
    }
    return splits, reader.files


def shard_files(path: Path) -> list[Path]:
    """``path`` itself when a file, else the sorted ``*.lmdb`` files in the folder."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(path, None, "LMDB file or folder not found")
    files = sorted(path.glob("*.lmdb"))
    if not files:
        raise DataError(path, None, "no *.lmdb files in folder")
    return files


class S2efShards:
    """Read-only view of one or more S2EF LMDB shards as one indexable sequence.

    Opening counts each shard's entries (O(1) per shard); entries are read, unpickled and
    checked one at a time by :meth:`get`. Environments come from :func:`shard_env` (one per
    file and process): a copy made by ``fork`` or by pickling (DataLoader workers) opens its
    own on its first read and never uses its parent's.
    """

    def __init__(self, files: list[Path]):
        self.files = files
        envs = [shard_env(f) for f in files]
        counts = [_entry_count(env, f) for env, f in zip(envs, files, strict=True)]
        self.starts = np.cumsum([0, *counts])
        self._envs, self._pid = dict(enumerate(envs)), os.getpid()

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_envs": {}, "_pid": None}

    def read(self, indices) -> list[Structure]:
        """Structures at the given global indices (in that order)."""
        return [self.get(int(i)) for i in indices]

    def get(self, i: int) -> Structure:
        """The checked structure at global index ``i`` (DataError naming shard and key)."""
        shard = int(np.searchsorted(self.starts, i, side="right") - 1)
        key, path = str(i - self.starts[shard]), self.files[shard]
        try:
            with self._env(shard).begin() as txn:
                raw = txn.get(key.encode("ascii"))
        except lmdb.Error as exc:
            raise DataError(path, f"entry {key}", f"corrupt LMDB ({exc})") from exc
        if raw is None:
            raise DataError(path, f"entry {key}", "missing key")
        return entry_to_structure(_unpickle(raw, path, key), path, key)

    def sources(self, indices) -> list[str]:
        """The shard file (as ``info["source"]`` names it) of each global index."""
        shards = np.searchsorted(self.starts, np.asarray(indices), side="right") - 1
        names = [str(f) for f in self.files]
        return [names[k] for k in shards.tolist()]

    def _env(self, shard: int) -> lmdb.Environment:
        if self._pid != os.getpid():  # a forked or unpickled copy: drop the parent's handles
            self._envs, self._pid = {}, os.getpid()
        if shard not in self._envs:
            self._envs[shard] = shard_env(self.files[shard])
        return self._envs[shard]


#: this process's shard environments, real path -> env (weakly held: an env closes with the
#: last S2efShards using it); LMDB refuses to open one file twice in a process
_OPEN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
#: real path -> (inode, size, mtime_ns) of the file each env of _OPEN opened
_STAMPS: dict[str, tuple[int, int, int]] = {}
_OPEN_PID = [os.getpid()]


def shard_env(path: Path) -> lmdb.Environment:
    """This process's read-only environment of ``path`` (:func:`open_lmdb`), shared by every
    reader of the file; reopened when the file changed. In a forked child the inherited
    environments are closed (in the child only) before any is opened."""
    if _OPEN_PID[0] != os.getpid():
        for env in list(_OPEN.values()):
            env.close()
        _OPEN.clear()
        _OPEN_PID[0] = os.getpid()
    real, st = os.path.realpath(path), path.stat()
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    env = _OPEN.get(real)
    if env is not None and _STAMPS.get(real) != stamp:
        env.close()  # the file was replaced or rewritten: readers holding it fail cleanly
        env = None
    if env is None:
        env = _OPEN[real] = open_lmdb(path)
        _STAMPS[real] = stamp
    return env


def open_lmdb(path: Path) -> lmdb.Environment:
    """Open an LMDB file read-only; DataError for empty, truncated or non-LMDB files."""
    size = path.stat().st_size
    if size == 0:
        raise DataError(path, None, "empty file")
    try:
        env = lmdb.open(
            str(path), subdir=False, readonly=True, lock=False, readahead=False, meminit=False
        )
        info, psize = env.info(), env.stat()["psize"]
    except lmdb.Error as exc:
        raise DataError(path, None, f"not a readable LMDB file ({exc})") from exc
    if (info["last_pgno"] + 1) * psize > size:  # reading past the end would crash (SIGBUS)
        env.close()
        raise DataError(path, None, f"truncated LMDB file ({size} bytes)")
    return env


def _entry_count(env: lmdb.Environment, path: Path) -> int:
    """Number of entries "0".."N-1" without reading them: the entries besides "length" (N),
    keys "0" and "N-1" present; a "length" entry, if any, must hold N. Any other hole in the
    keys is a DataError when that entry is read."""
    with env.begin() as txn:
        length = txn.get(b"length")
        n = env.stat()["entries"] - (length is not None)
        ends_ok = n == 0 or None not in (txn.get(b"0"), txn.get(str(n - 1).encode("ascii")))
    if not ends_ok:
        raise DataError(path, "keys", "expected keys '0'..'N-1' (fairchem S2EF layout)")
    if length is not None:
        _check_length(length, n, path)
    return n


def _check_length(raw: bytes, n: int, path: Path) -> None:
    try:
        value = restricted_loads(raw)
    except Exception as exc:  # garbled or refused pickle
        raise DataError(path, "length", f"unreadable ({type(exc).__name__}: {exc})") from exc
    if type(value) is not int and not isinstance(value, np.integer):
        raise DataError(path, "length", f"expected an int, got {type(value).__name__}")
    if value != n:
        raise DataError(path, "length", f"says {value} entries, the file has {n}")


def _unpickle(raw: bytes, path: Path, key: str) -> dict:
    """The fields of one entry: a pickled PyG ``Data`` (refused: anything else)."""
    try:
        obj = restricted_loads(raw)
    except UnsafePickleError as exc:
        raise DataError(path, f"entry {key}", str(exc)) from exc
    except Exception as exc:  # truncated or garbled pickles raise many types
        msg = f"corrupt pickle ({type(exc).__name__}: {exc})"
        raise DataError(path, f"entry {key}", msg) from exc
    return _data_fields(obj, path, key)


def _data_fields(obj, path: Path, key: str) -> dict:
    """``Data`` fields read from ``__dict__`` (no PyG method runs on file content)."""
    from torch_geometric.data import Data
    from torch_geometric.data.storage import GlobalStorage

    if type(obj) is not Data:
        raise DataError(
            path, f"entry {key}", f"not a torch_geometric Data object (got {type(obj).__name__})"
        )
    attrs = obj.__dict__
    if "_store" not in attrs:  # pickled by torch_geometric < 2.0: plain attributes
        return {k: v for k, v in attrs.items() if v is not None}
    store = attrs["_store"]
    mapping = store.__dict__.get("_mapping") if type(store) is GlobalStorage else None
    if type(mapping) is not dict:
        raise DataError(path, f"entry {key}", "malformed Data object (no field mapping)")
    return dict(mapping)


def _field(entry: dict, names: tuple[str, ...], path: Path, key: str, kinds: str = "iuf"):
    for name in names:
        if name in entry:
            value = entry[name]
            if isinstance(value, torch.Tensor):
                if value.dtype == torch.bfloat16:
                    raise DataError(path, f"entry {key}: {name}", "bfloat16 tensor refused")
                value = value.numpy()
            return check_real(value, path, f"entry {key}: {name}", kinds)
    raise DataError(path, f"entry {key}: {names[0]}", "missing")


def entry_to_structure(entry: dict, path: Path, key: str) -> Structure:
    """One S2EF entry (a Data's fields as a dict) -> Structure, with every check of
    bench.data.checks.check_structure and ``natoms`` (if present) matching ``pos``."""
    where = f"entry {key}: "
    fields = {k: where + name for k, name in _FIELDS.items()}
    z = check_atomic_numbers(_field(entry, ("atomic_numbers",), path, key), path, fields["z"])
    n = len(z)
    pos = _field(entry, ("pos",), path, key)
    check_shape(pos, (n, 3), path, fields["pos"])
    if "natoms" in entry:
        _check_natoms(_field(entry, ("natoms",), path, key, "iu"), n, path, where + "natoms")
    cell = _field(entry, ("cell",), path, key).reshape(-1)
    check_shape(cell, (9,), path, fields["cell"])
    fields["energy"] = where + ("y" if "y" in entry else "energy")
    energy = _field(entry, ("y", "energy"), path, key).reshape(-1)
    check_shape(energy, (1,), path, fields["energy"])
    fixed = _field(entry, ("fixed",), path, key, "biuf") if "fixed" in entry else None
    tags = _field(entry, ("tags",), path, key) if "tags" in entry else None  # fairchem: float
    for arr, name in ((fixed, "fixed"), (tags, "tags")):
        if arr is not None:
            check_shape(arr, (n,), path, where + name)
    if tags is not None and np.any(tags != np.round(tags)):
        raise DataError(path, where + "tags", "tags must be integers")
    info = {"source": str(path), "key": key}
    info.update({k: _scalar(entry[k]) for k in ("sid", "fid") if k in entry})
    s = Structure(
        z=z,
        pos=pos.astype(np.float64),
        energy=float(energy[0]),
        forces=_field(entry, ("force", "forces"), path, key).astype(np.float64),
        id=f"{path.name}:{key}",
        cell=cell.reshape(3, 3).astype(np.float64),
        pbc=np.ones(3, dtype=bool),
        fixed=None if fixed is None else fixed.astype(bool),
        tags=None if tags is None else tags.astype(np.int64),
        info=info,
    )
    check_structure(s, path, fields)
    return s


def _check_natoms(natoms: np.ndarray, n: int, path: Path, field: str) -> None:
    if natoms.size != 1 or int(natoms.reshape(-1)[0]) != n:
        raise DataError(path, field, f"says {natoms.reshape(-1).tolist()} atoms, pos has {n}")


def write_s2ef_lmdb(path: Path, structures: list[Structure]) -> Path:
    """Write ``structures`` as one fairchem S2EF LMDB file (for tests and exports).

    Entries are ``torch_geometric`` ``Data`` with float32 pos, cell [1, 3, 3], atomic_numbers,
    natoms, tags, fixed, y, force, sid, fid, pickled as fairchem does, plus a "length" entry.
    """
    from torch_geometric.data import Data

    values = []
    for i, s in enumerate(structures):
        n = s.n_atoms
        cell = s.cell if s.cell is not None else np.zeros((3, 3))
        fixed = s.fixed if s.fixed is not None else np.zeros(n)
        data = Data(
            pos=torch.tensor(s.pos, dtype=torch.float32),
            cell=torch.tensor(cell, dtype=torch.float32).reshape(1, 3, 3),
            atomic_numbers=torch.tensor(s.z, dtype=torch.float32),
            natoms=n,
            tags=torch.tensor(s.tags if s.tags is not None else np.zeros(n), dtype=torch.long),
            fixed=torch.tensor(fixed, dtype=torch.float32),
            y=float(s.energy),
            force=torch.tensor(s.forces, dtype=torch.float32),
            sid=i,
            fid=0,
        )
        values.append(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    env = lmdb.open(str(path), subdir=False, map_size=2 * sum(map(len, values)) + (1 << 20))
    with env.begin(write=True) as txn:
        for i, v in enumerate(values):
            txn.put(str(i).encode("ascii"), v)
        txn.put(b"length", pickle.dumps(len(values), protocol=pickle.HIGHEST_PROTOCOL))
    env.close()
    return path


def _scalar(v):
    v = v.item() if isinstance(v, torch.Tensor | np.ndarray) and v.size == 1 else v
    return v if isinstance(v, int | str | float) else str(v)
