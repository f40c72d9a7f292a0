"""Grid expansion and run identity: one GridPoint per run, named by a stable hash."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from bench.matrix.spec import MOLECULE_DATASETS, MatrixSpec


@dataclass(frozen=True)
class GridPoint:
    """What defines one run. Everything here is part of its identity (and hash); where the
    data lives, where results go and how the run is launched are not."""

    backbone: str
    method: str
    dataset: str
    seed: int
    molecule: str | None = None
    preset: str = "ci"
    profile: str | None = None
    max_steps: int | None = None
    epochs: int | None = None
    device: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """The fields that define the run, None values left out so that adding an optional
        field later keeps the hashes of existing runs."""
        d = {
            "backbone": self.backbone,
            "method": self.method,
            "dataset": self.dataset,
            "seed": self.seed,
            "molecule": self.molecule,
            "preset": self.preset,
            "profile": self.profile,
            "max_steps": self.max_steps,
            "epochs": self.epochs,
            "device": self.device,
            "overrides": {k: self.overrides[k] for k in sorted(self.overrides)} or None,
        }
        return {k: v for k, v in d.items() if v is not None}

    def config_hash(self) -> str:
        """sha256 (hex, 12 characters) of the canonical JSON of ``identity()``."""
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def run_id(self) -> str:
        """Readable and unique: ``<backbone>_<method>_<dataset>[_<molecule>]_s<seed>_<hash>``."""
        parts = [self.backbone, self.method, self.dataset]
        if self.molecule:
            parts.append(self.molecule)
        parts += [f"s{self.seed}", self.config_hash()]
        return "_".join(parts)

    def label(self) -> str:
        """Short human label used in tables and baselines: ``backbone/method/...``."""
        parts = [self.backbone, self.method, self.dataset]
        if self.molecule:
            parts.append(self.molecule)
        return "/".join(parts + [f"seed{self.seed}"])


def expand(spec: MatrixSpec) -> list[GridPoint]:
    """All runs of the matrix, in order backbone > method > dataset > molecule > seed.

    Molecules expand md17/rmd17 datasets only; duplicates (same identity) appear once.
    """
    points: dict[str, GridPoint] = {}
    for backbone, method, dataset in itertools.product(
        spec.backbones, spec.methods, spec.datasets
    ):
        molecules = spec.molecules if dataset in MOLECULE_DATASETS and spec.molecules else (None,)
        for molecule, seed in itertools.product(molecules, spec.seeds):
            point = GridPoint(
                backbone=backbone,
                method=method,
                dataset=dataset,
                seed=seed,
                molecule=molecule,
                preset=spec.preset,
                profile=spec.profile,
                max_steps=spec.max_steps,
                epochs=spec.epochs,
                device=spec.device,
                overrides=dict(spec.overrides),
            )
            points.setdefault(point.run_id(), point)
    return list(points.values())
