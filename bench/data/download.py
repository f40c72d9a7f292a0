"""Downloads of the public datasets into ``<data_root>/<dataset>/``, verified by sha256.

MD17 comes from the sGDML site (http://www.quantum-machine.org/gdml/#datasets). Checksums:
only aspirin's is known, taken from one third-party script (not verified here); for the other
molecules no published checksum was found, so the download reports the sha256 it got instead.
rMD17 comes from github andersx/rmd17-npz at a pinned commit; its sha256 values
(rmd17_sha256.json) were computed from copies of those files (azobenzene and paracetamol are
not listed: their downloads report the sha256 instead). A file is written under a temporary
name and renamed only once complete and verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.data.checksums import sha256_file
from bench.data.md17 import MD17_FILES
from bench.data.rmd17 import RMD17_MOLECULES
from bench.errors import DataError
from bench.registry import did_you_mean

MD17_URL = "http://www.quantum-machine.org/gdml/data/npz/"
RMD17_COMMIT = "4f6bb0a186822c90d47cd98b7a27991fe0b3173b"
RMD17_URL = f"https://raw.githubusercontent.com/andersx/rmd17-npz/{RMD17_COMMIT}/rmd17-npz/"
#: md17 file -> sha256 (third-party value, see the module docstring)
MD17_SHA256 = {
    "md17_aspirin.npz": "af4ce531bf8cf07610c0bd876cb5b321f3c301d2365720967d98d45e1db1f748",
}
TIMEOUT_S = 30
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Remote:
    """One downloadable file: its URL, its local file name and its sha256 when known."""

    url: str
    name: str
    sha256: str | None


def remotes(dataset: str, molecule: str | None) -> list[Remote]:
    """The files of ``dataset`` ("md17" or "rmd17") for one molecule, or all when None."""
    if dataset == "md17":
        mols = _molecules(tuple(MD17_FILES), molecule)
        return [
            Remote(MD17_URL + MD17_FILES[m], MD17_FILES[m], MD17_SHA256.get(MD17_FILES[m]))
            for m in mols
        ]
    if dataset == "rmd17":
        sums = json.loads((Path(__file__).parent / "rmd17_sha256.json").read_text())
        names = [
            f"rmd17_{m}_{part}_{k:02d}.npz"
            for m in _molecules(RMD17_MOLECULES, molecule)
            for part in ("train", "test")
            for k in range(1, 6)
        ]
        return [Remote(RMD17_URL + f, f, sums.get(f)) for f in names]
    raise DataError(None, "dataset", did_you_mean(dataset, ("md17", "rmd17")))


def _molecules(known: tuple[str, ...], molecule: str | None) -> tuple[str, ...]:
    if molecule is None:
        return known
    if molecule not in known:
        raise DataError(None, "molecule", did_you_mean(molecule, known))
    return (molecule,)


def download(remote: Remote, folder: Path) -> tuple[Path, str]:
    """Fetch ``remote`` into ``folder`` (kept when already there and matching its sha256).

    Returns:
        The local path and the sha256 of its bytes.

    Raises:
        DataError: network failure (offline), HTTP error, or a checksum mismatch.
    """
    dest = folder / remote.name
    if dest.is_file() and remote.sha256 is not None and sha256_file(dest) == remote.sha256:
        return dest, remote.sha256
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{remote.name}.part"
    try:
        digest = _fetch(remote.url, tmp)
        if remote.sha256 is not None and digest != remote.sha256:
            raise DataError(
                remote.url, "sha256", f"got {digest}, expected {remote.sha256}; file discarded"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest, digest


def _fetch(url: str, tmp: Path) -> str:
    """Stream ``url`` into ``tmp``; returns the sha256 of the bytes written."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(tmp, "wb") as fh:
            while chunk := resp.read(_CHUNK):
                h.update(chunk)
                fh.write(chunk)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            url, None, f"download failed ({reason}); offline? fetch it by hand into {tmp.parent}"
        ) from exc
    return h.hexdigest()
