"""Preprocessed LMDB cache (positions, labels, neighbour lists) that refuses stale sources.

A cache is a folder with ``meta.json`` (format, dataset spec, graph settings, split sizes,
sha256 of every source file) and ``data.lmdb`` (keys ``"<split>/<i>"``, values npz bytes: no
pickle). It is written into a temporary sibling folder and renamed into place, so a failed
``prepare`` leaves nothing behind. ``load_cache`` re-checks every source file (size and mtime,
then sha256 when those changed) and raises DataError when any differs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import uuid
import zipfile
from pathlib import Path

import lmdb
import numpy as np
import torch

from bench.data.checksums import sha256_file
from bench.data.graphs import build_graph
from bench.data.paths import default_data_root
from bench.data.registry import DatasetSpec, SplitData, load_splits
from bench.data.s2ef_lmdb import open_lmdb
from bench.data.structure import Structure
from bench.errors import ConfigError, DataError
from bench.io import write_json_atomic

CACHE_FORMAT = 1
#: dataset -> (cutoff A, max neighbours) of the paper's backbones (MD17 Equiformer, OC20 EqV2)
GRAPH_DEFAULTS = {"md17": (5.0, None), "rmd17": (5.0, None), "oc20": (12.0, 20), "oc22": (12.0, 20)}
SPLITS = ("train", "val", "test")
_OPTIONAL = ("cell", "pbc", "fixed", "tags")


def spec_dict(spec: DatasetSpec) -> dict:
    """``spec`` as a JSON-ready dict (paths as strings)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(spec).items()}


def graph_settings(
    dataset: str, cutoff: float | None, max_neighbors: int | None
) -> tuple[float, int | None]:
    """Cutoff and neighbour cap: the given values, else GRAPH_DEFAULTS; ``max_neighbors=0`` means
    no cap. Raises ConfigError when no positive cutoff results (``ase`` has no default).
    """
    default_cutoff, default_cap = GRAPH_DEFAULTS.get(dataset, (None, None))
    cutoff = default_cutoff if cutoff is None else cutoff
    if cutoff is None or not cutoff > 0:
        raise ConfigError(
            f"cutoff: give a positive cutoff in Angstrom for {dataset!r}, not {cutoff}"
        )
    return float(cutoff), default_cap if max_neighbors is None else (max_neighbors or None)


def default_cache_dir(spec: DatasetSpec, cutoff: float, max_neighbors: int | None) -> Path:
    """``<data_root>/cache/<dataset>[-<molecule>]-<hash of spec and graph settings>``."""
    key = json.dumps([spec_dict(spec), cutoff, max_neighbors], sort_keys=True)
    tag = "-".join(p for p in (spec.name, spec.molecule) if p)
    root = Path(spec.data_root) if spec.data_root is not None else default_data_root()
    return root / "cache" / f"{tag}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def prepare_cache(
    spec: DatasetSpec, out: Path, cutoff: float, max_neighbors: int | None, force: bool = False
) -> Path:
    """Read ``spec``, build neighbour lists and write the cache folder ``out`` atomically.

    An existing ``out`` that is fresh and was made from the same spec and graph settings is
    kept as is; any other existing ``out`` needs ``force=True``.
    """
    graph = {"cutoff": float(cutoff), "max_neighbors": max_neighbors}
    if out.exists() and not force:
        meta = read_meta(out)
        if meta["spec"] == spec_dict(spec) and meta["graph"] == graph:
            check_fresh(out, meta)
            return out
        raise DataError(out, None, "a cache for other settings exists here; pass --force")
    splits = load_splits(spec)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        _write_records(tmp / "data.lmdb", splits, cutoff, max_neighbors)
        write_json_atomic(tmp / "meta.json", _meta(spec, splits, graph))
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_cache(out: Path, spec: DatasetSpec | None = None) -> SplitData:
    """The splits stored in cache ``out``; DataError when stale, foreign or corrupt.

    Each structure's ``info`` carries ``edge_index`` [2, E] and ``edge_shift`` [E, 3] (A).
    """
    meta = read_meta(out)
    if spec is not None and meta["spec"] != spec_dict(spec):
        raise DataError(out, "spec", "cache was prepared for another dataset spec")
    check_fresh(out, meta)
    env = open_lmdb(out / "data.lmdb")
    try:
        with env.begin() as txn:
            splits = {
                k: [_decode(txn.get(f"{k}/{i}".encode()), out, f"{k}/{i}") for i in range(n)]
                for k, n in meta["counts"].items()
            }
    finally:
        env.close()
    return SplitData(
        **splits,
        periodic=meta["periodic"],
        energy_kind=meta["energy_kind"],
        sources={p: s["sha256"] for p, s in meta["sources"].items()},
        e0s={int(z): e for z, e in meta["e0s"].items()} if meta.get("e0s") else None,
    )


def read_structure(txn: lmdb.Transaction, out: Path, split: str, index: int) -> Structure:
    """Entry ``index`` of ``split`` from an open read transaction on ``out``'s ``data.lmdb``
    (one structure at a time, e.g. in DataLoader workers); as :func:`load_cache` decodes it."""
    key = f"{split}/{index}"
    return _decode(txn.get(key.encode()), out, key)


def read_meta(out: Path) -> dict:
    """The cache's ``meta.json``; DataError when absent, unreadable or of another format."""
    path = out / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(path, None, f"not a dens-bench cache ({exc})") from exc
    if meta.get("format") != CACHE_FORMAT:
        raise DataError(path, "format", f"cache format {meta.get('format')} != {CACHE_FORMAT}")
    return meta


def check_fresh(out: Path, meta: dict) -> None:
    """DataError naming the first source file that is gone or whose bytes changed."""
    for name, rec in meta["sources"].items():
        path = Path(name)
        if not path.is_file():
            raise DataError(out, "sources", f"stale cache: source {name} is gone")
        st = path.stat()
        if [st.st_size, st.st_mtime_ns] == rec["size_mtime"]:
            continue
        if sha256_file(path) != rec["sha256"]:
            raise DataError(
                out, "sources", f"stale cache: {name} changed since prepare; re-run prepare"
            )


def _meta(spec: DatasetSpec, splits: SplitData, graph: dict) -> dict:
    sources = {}
    for name, digest in splits.sources.items():
        st = Path(name).stat()
        abs_name = str(Path(name).resolve())
        sources[abs_name] = {"sha256": digest, "size_mtime": [st.st_size, st.st_mtime_ns]}
    return {
        "format": CACHE_FORMAT,
        "spec": spec_dict(spec),
        "graph": graph,
        "counts": {k: len(getattr(splits, k)) for k in SPLITS},
        "periodic": splits.periodic,
        "energy_kind": splits.energy_kind,
        "sources": sources,
        "e0s": {str(z): e for z, e in (splits.e0s or {}).items()},
    }


def _write_records(path: Path, splits: SplitData, cutoff: float, max_nb: int | None) -> None:
    values = {
        f"{k}/{i}".encode(): _encode(s, cutoff, max_nb)
        for k in SPLITS
        for i, s in enumerate(getattr(splits, k))
    }
    map_size = 2 * sum(map(len, values.values())) + (1 << 20)
    env = lmdb.open(str(path), subdir=False, map_size=map_size, lock=False)
    try:
        with env.begin(write=True) as txn:
            for key, value in values.items():
                txn.put(key, value)
        env.sync(True)
    finally:
        env.close()


def _encode(s: Structure, cutoff: float, max_nb: int | None) -> bytes:
    """One structure plus its graph as npz bytes (float64 labels, no pickle)."""
    pos = torch.as_tensor(s.pos)
    cell = None if s.cell is None else torch.as_tensor(s.cell).reshape(1, 3, 3)
    pbc = None if s.pbc is None else torch.as_tensor(s.pbc).reshape(1, 3)
    batch = torch.zeros(s.n_atoms, dtype=torch.long)
    edge_index, edge_shift = build_graph(pos, batch, cutoff, max_nb, cell, pbc)
    arrays = {"z": s.z, "pos": s.pos, "energy": np.array([s.energy]), "forces": s.forces}
    arrays |= {k: getattr(s, k) for k in _OPTIONAL if getattr(s, k) is not None}
    arrays |= {"edge_index": edge_index.numpy(), "edge_shift": edge_shift.numpy()}
    arrays |= {"id": np.array(s.id), "info": np.array(json.dumps(s.info, default=str))}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _decode(raw: bytes | None, out: Path, key: str) -> Structure:
    if raw is None:
        raise DataError(out / "data.lmdb", key, "missing entry")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as f:
            a = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(out / "data.lmdb", key, f"corrupt cache entry ({exc})") from exc
    info = json.loads(str(a["info"]))
    info |= {"edge_index": a["edge_index"], "edge_shift": a["edge_shift"]}
    return Structure(
        z=a["z"],
        pos=a["pos"],
        energy=float(a["energy"][0]),
        forces=a["forces"],
        id=str(a["id"]),
        info=info,
        **{k: a[k] for k in _OPTIONAL if k in a},
    )


def _replace_dir(new: Path, out: Path) -> None:
    """Rename ``new`` to ``out``; an existing ``out`` is moved aside first, then deleted."""
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    if out.exists():
        os.rename(out, old)
    os.rename(new, out)
    shutil.rmtree(old, ignore_errors=True)
