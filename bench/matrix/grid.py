"""Grid expansion and run identity: one GridPoint per run, named as ``bench run`` names it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from bench.matrix.spec import MOLECULE_DATASETS, MatrixSpec
from bench.run_request import RunRequest, override


@dataclass(frozen=True)
class GridPoint:
    """What defines one run of a matrix; where the data lives, where results go and how the
    run is launched do not. Its run id is that of its resolved config (:meth:`run_id`)."""

    backbone: str
    method: str
    dataset: str
    seed: int
    molecule: str | None = None
    preset: str = "ci"
    scale: str | None = None
    profile: str | None = None
    max_steps: int | None = None
    epochs: int | None = None
    device: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """The fields that define the run (as the run index shows them), None values left
        out."""
        d = {
            "backbone": self.backbone,
            "method": self.method,
            "dataset": self.dataset,
            "seed": self.seed,
            "molecule": self.molecule,
            "preset": self.preset,
            "scale": self.scale,
            "profile": self.profile,
            "max_steps": self.max_steps,
            "epochs": self.epochs,
            "device": self.device,
            "overrides": {k: self.overrides[k] for k in sorted(self.overrides)} or None,
        }
        return {k: v for k, v in d.items() if v is not None}

    def request(
        self, results: str | None = None, run_id: str | None = None, data_root: str | None = None
    ) -> RunRequest:
        """The ``bench run`` request of this point (bench.run_request); ``results``,
        ``run_id`` and ``data_root`` say where, not what."""
        return RunRequest(
            backbone=self.backbone,
            method=self.method,
            dataset=self.dataset,
            seed=self.seed,
            preset=self.preset,
            scale=self.scale,
            molecule=self.molecule,
            profile=self.profile,
            max_steps=self.max_steps,
            epochs=self.epochs,
            device=self.device,
            data_root=data_root,
            overrides=tuple(override(k, self.overrides[k]) for k in sorted(self.overrides)),
            results=results,
            run_id=run_id,
        )

    def run_id(self) -> str:
        """The id ``bench run`` gives the same request: bench.train.run.default_run_id of
        the resolved config (a hash of it without location keys)."""
        from bench.train.run import default_run_id

        return default_run_id(self.request().resolve())

    def label(self) -> str:
        """Short human label used in tables and baselines: ``backbone/method/...``."""
        parts = [self.backbone, self.method, self.dataset]
        if self.molecule:
            parts.append(self.molecule)
        return "/".join(parts + [f"seed{self.seed}"])


def expand(spec: MatrixSpec) -> list[GridPoint]:
    """All runs of the matrix, in order backbone > method > dataset > molecule > seed.

    Molecules expand md17/rmd17 datasets only; duplicates (same run id) appear once. Every
    point is resolved here: a misspelt key or name is a ConfigError before anything runs.
    """
    points: dict[str, GridPoint] = {}
    for backbone, method, dataset in itertools.product(spec.backbones, spec.methods, spec.datasets):
        molecules = spec.molecules if dataset in MOLECULE_DATASETS and spec.molecules else (None,)
        for molecule, seed in itertools.product(molecules, spec.seeds):
            point = GridPoint(
                backbone=backbone,
                method=method,
                dataset=dataset,
                seed=seed,
                molecule=molecule,
                preset=spec.preset,
                scale=spec.scale,
                profile=spec.profile,
                max_steps=spec.max_steps,
                epochs=spec.epochs,
                device=spec.device,
                overrides=dict(spec.overrides),
            )
            points.setdefault(point.run_id(), point)
    return list(points.values())
