"""CLI: `bench data info | download` (dataset summary, downloads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.data.registry import DatasetSpec

app = typer.Typer(
    help="Inspect and download datasets (md17, rmd17, npz, ase, oc20-traj, oc20, oc22).",
    no_args_is_help=True,
)

Dataset = Annotated[str, typer.Argument(help="md17, rmd17, npz, ase, oc20-traj, oc20 or oc22.")]
Molecule = Annotated[str | None, typer.Option("--molecule", "-m", help="MD17/rMD17 molecule.")]
FilePath = Annotated[
    Path | None, typer.Option("--path", help="File or folder (npz, ase, oc20-traj, oc20/22).")
]
DataRoot = Annotated[
    Path | None,
    typer.Option("--data-root", help="Folder of datasets [default: $DENS_BENCH_DATA or ./data]."),
]
Labels = Annotated[str, typer.Option("--labels", help="rMD17 labels: original or revised.")]
SplitIndex = Annotated[int, typer.Option("--split-index", help="rMD17 official split 1..5.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the split permutation.")]
NTrain = Annotated[int | None, typer.Option("--n-train", help="Train size [MD17: 950].")]
NVal = Annotated[int | None, typer.Option("--n-val", help="Validation size [MD17: 50].")]
MaxStructures = Annotated[
    int | None, typer.Option("--max-structures", help="Keep at most this many per split.")
]
EnergyKey = Annotated[
    str | None, typer.Option("--energy-key", help="ASE info key of the energy (REF_energy).")
]
ForcesKey = Annotated[
    str | None, typer.Option("--forces-key", help="ASE arrays key of the forces (REF_forces).")
]
EnergyUnit = Annotated[
    str | None, typer.Option("--energy-unit", help="npz without e_unit: eV, kcal/mol, ...")
]
LengthUnit = Annotated[
    str | None, typer.Option("--length-unit", help="npz without r_unit: Ang, Bohr, nm.")
]


def build_spec(
    dataset: str,
    molecule: str | None,
    path: Path | None,
    data_root: Path | None,
    labels: str,
    split_index: int,
    seed: int,
    n_train: int | None,
    n_val: int | None,
    max_structures: int | None,
    **label_options: str | None,
) -> DatasetSpec:
    """A DatasetSpec from CLI options (unknown dataset names fail with did-you-mean);
    ``label_options``: energy_key, forces_key, energy_unit, length_unit."""
    from bench.data.paths import default_data_root
    from bench.data.registry import DATASETS
    from bench.registry import resolve

    resolve(DATASETS, dataset, "dataset")
    return DatasetSpec(
        name=dataset,
        data_root=data_root if data_root is not None else default_data_root(),
        molecule=molecule,
        labels=labels,
        path=path,
        split_index=split_index,
        split_seed=seed,
        n_train=n_train,
        n_val=n_val,
        max_structures=max_structures,
        split_by="trajectory" if dataset == "oc20-traj" else "frame",
        **label_options,
    )


@app.command("info")
def info_cmd(
    dataset: Dataset,
    molecule: Molecule = None,
    path: FilePath = None,
    data_root: DataRoot = None,
    labels: Labels = "original",
    split_index: SplitIndex = 1,
    seed: Seed = 1,
    n_train: NTrain = None,
    n_val: NVal = None,
    max_structures: MaxStructures = None,
    energy_key: EnergyKey = None,
    forces_key: ForcesKey = None,
    energy_unit: EnergyUnit = None,
    length_unit: LengthUnit = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Sizes, elements, splits and train-split label statistics of a dataset."""
    from bench.data.registry import load_splits
    from bench.data.summary import summarize

    spec = build_spec(
        dataset,
        molecule,
        path,
        data_root,
        labels,
        split_index,
        seed,
        n_train,
        n_val,
        max_structures,
        energy_key=energy_key,
        forces_key=forces_key,
        energy_unit=energy_unit,
        length_unit=length_unit,
    )
    summary = summarize(load_splits(spec))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for key, value in summary.items():
        typer.echo(f"{key}: {value}")


@app.command("download")
def download_cmd(
    dataset: Annotated[str, typer.Argument(help="md17 or rmd17.")],
    molecule: Molecule = None,
    data_root: DataRoot = None,
) -> None:
    """Download MD17 (sGDML) or rMD17 files into DATA_ROOT/<dataset>/, checking sha256."""
    from bench.data.download import download, remotes
    from bench.data.paths import default_data_root

    folder = (data_root if data_root is not None else default_data_root()) / dataset
    for remote in remotes(dataset, molecule):
        dest, digest = download(remote, folder)
        note = "verified" if remote.sha256 else "no published checksum to verify"
        typer.echo(f"{dest}  sha256 {digest}  ({note})")


def register(root: typer.Typer) -> None:
    """Add the `data` command group to ``root``."""
    root.add_typer(app, name="data")
