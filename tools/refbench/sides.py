"""The two sides of a vs-reference timing: the authors' training step and dens-bench's.

Each side is a zero-argument callable taking one training step (forward, forces, backward,
AdamW) on the next batch of a fixed pool. Both pools are the same structures in the same
order: dens-bench's ``EpochBatches`` of the perf config (``bench.perf.train.run_config``),
converted to the reference's input layout. The reference is built by the parity harness
(tools/parity): the authors' classes from the git-ignored checkout in
``tools/parity/reference``. Nothing here is imported by dens-bench.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "tools" / "parity"
#: the 77-atom OC20 frame of the issue's table (only trajectory of that size) and the shipped
#: fallback (tests/data) when $DENS_BENCH_DATA lacks it
OC20_FRAME = "oc20_relax/random1000151.traj"
OC20_FALLBACK = ROOT / "tests/data/oc20_relax/random1000156.traj"
#: blocks of the ``reduced`` OC20 size (paper: 12); widths stay the paper's
REDUCED_LAYERS = 2
#: DeNS step settings of the reference sides: MD17 main_md17_dens.py defaults with the
#: released config's corruption; OC20 one draw per batch
MD17_DENS = {"std": 0.05, "prob": 0.25, "corrupt_ratio": 0.25, "weights": (0.2, 0.8, 5.0)}
OC20_DENS = {"std": 0.1, "prob": 0.25, "corrupt_ratio": 0.5, "weights": (2.0, 100.0, 10.0)}


@dataclass(frozen=True)
class Spec:
    """One compared model: dataset kind, dens-bench backbone and method, reference id
    (``l2``/``l2_dens``/``l3``/``l3_dens``: Equiformer MD17 Lmax 2/3;
    ``eq2``/``eq2_dens``/``escn_dens``: tools/parity/fairchem_models; ``pyg``:
    torch_geometric's SchNet), batch size and dens-bench's backbone preset."""

    kind: str
    backbone: str
    method: str
    reference: str
    batch_size: int
    preset: str = "paper"


MODELS = {
    "equiformer": Spec("md17", "equiformer", "none", "l2", 8),
    "equiformer-dens": Spec("md17", "equiformer", "dens", "l2_dens", 8),
    "equiformer-l3": Spec("md17", "equiformer", "none", "l3", 8, "paper-l3"),
    "equiformer-l3-dens": Spec("md17", "equiformer", "dens", "l3_dens", 8, "paper-l3"),
    "equiformer-v2": Spec("oc20", "equiformer-v2", "none", "eq2", 1),
    "equiformer-v2-dens": Spec("oc20", "equiformer-v2", "dens", "eq2_dens", 1),
    "escn": Spec("oc20", "escn", "none", "escn_dens", 1),
    "escn-dens": Spec("oc20", "escn", "dens", "escn_dens", 1),
    "schnet": Spec("md17", "schnet", "none", "pyg", 32),
}


def setup_paths() -> None:
    """The repository, the parity harness and its torch_scatter / torch_cluster stubs."""
    for path in (ROOT, PARITY, PARITY / "stubs"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def perf_options(spec: Spec, size: str, data_root: Path, steps: int):
    """The ``bench perf`` options of dens-bench's side (paper preset; ``reduced``: OC20 models
    with REDUCED_LAYERS blocks)."""
    from bench.perf.train import TrainBenchOptions

    sets: list[str] = []
    dataset = "md17-aspirin"
    if spec.kind == "oc20":
        dataset = "oc20-relax"
        frame = data_root / OC20_FRAME
        sets.append(f"data.path={frame if frame.exists() else OC20_FALLBACK}")
        if size == "reduced":
            sets.append(f"model.options.num_layers={REDUCED_LAYERS}")
    return TrainBenchOptions(
        backbone=spec.backbone,
        methods=(spec.method,),
        dataset=dataset,
        preset=spec.preset,
        batch_size=spec.batch_size,
        steps=steps,
        warmup=0,
        repeats=1,
        data_root=str(data_root),
        overrides=tuple(sets),
    )


def pool(opts) -> tuple[object, list, dict]:
    """(run config, the pool's batches in training order, normalisation) of ``opts``."""
    from bench.perf.train import run_config
    from bench.train.batches import EpochBatches
    from bench.train.setup import load_split, normalization, to_data_list

    cfg = run_config(opts, opts.methods[0])
    split = load_split(cfg.data)
    data = to_data_list(split.train, cfg.dtype)
    batches = EpochBatches(data, cfg.train.batch_size, cfg.seed, cfg.train.drop_last, 0, 1)
    return (
        cfg,
        [batches.batch(0, i) for i in range(len(batches))],
        normalization(cfg.data, split.train),
    )


def ours(opts) -> tuple[Callable[[], object], int]:
    """dens-bench's step (``Trainer.one_step``, exactly what ``bench perf`` times) and its
    parameter count."""
    from bench.perf.train import build_trainer, run_config
    from bench.train.setup import load_split

    cfg = run_config(opts, opts.methods[0])
    trainer = build_trainer(cfg, load_split(cfg.data))
    return trainer.one_step, sum(p.numel() for p in trainer.model.parameters())


def reference(spec: Spec, size: str, opts) -> tuple[Callable[[], object], int]:
    """The authors' step on the same batches, and its parameter count."""
    _, batches, norm = pool(opts)
    build = {"md17": _md17_reference, "oc20": _oc20_reference}[spec.kind]
    model, loss = build(spec, size, norm)
    optimizer = torch.optim.AdamW(_decay_groups(model), lr=5e-4, weight_decay=1e-6)
    model.train()
    state = {"k": 0}

    def step() -> float:
        batch = batches[state["k"] % len(batches)]
        state["k"] += 1
        total = loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return total.item()

    return step, sum(p.numel() for p in model.parameters())


def _decay_groups(model: torch.nn.Module) -> list[dict]:
    """The reference's parameter groups (no decay on its ``no_weight_decay()`` names) where it
    has them, else one group."""
    skip = getattr(model, "no_weight_decay", lambda: set())()
    decay = [p for n, p in model.named_parameters() if n not in skip]
    rest = [p for n, p in model.named_parameters() if n in skip]
    return [{"params": decay}, {"params": rest, "weight_decay": 0.0}]


def _l2mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """main_md17.py's L2MAELoss: mean over atoms of the Euclidean error."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def _radius_interaction_graph(pos: torch.Tensor, batch: torch.Tensor):
    """PyG's ``RadiusInteractionGraph(5.0, 32)`` on the parity stub of ``torch_cluster``
    (PyG's own ``radius_graph`` needs pyg-lib): edge_index [2, E], lengths [E] (Angstrom)."""
    from torch_cluster import radius_graph

    edge_index = radius_graph(pos, r=5.0, batch=batch, max_num_neighbors=32)
    row, col = edge_index
    return edge_index, (pos[row] - pos[col]).norm(dim=-1)


def _md17_reference(spec: Spec, size: str, norm: dict):
    """(model, loss(model, batch)) of an MD17 reference: Equiformer (main_md17[_dens].py's step)
    or PyG SchNet (gradient forces)."""
    mean, std = norm["energy_mean"], norm["energy_std"]
    if spec.reference == "pyg":
        from torch_geometric.nn.models import SchNet

        model = SchNet(128, 128, 6, 50, cutoff=5.0, interaction_graph=_radius_interaction_graph)

        def schnet_loss(model, b):
            pos = b.pos.clone().requires_grad_(True)
            energy = model(b.z, pos, b.batch).squeeze(-1)
            forces = -torch.autograd.grad(energy.sum(), pos, create_graph=True)[0]
            e_term = (energy - (b.energy.float() - mean) / std).abs().mean()
            return e_term + 80.0 * _l2mae(forces, b.forces / std)

        return model, schnet_loss
    import equiformer_md17 as em

    md17_mod, dens_mod = em.load_reference()
    torch.set_default_dtype(torch.float32)  # load_reference sets float64 for parity
    dens = spec.reference.endswith("dens")
    cfg = em.reference_config(3 if spec.reference.startswith("l3") else 2, dens, small=False)
    if not dens:
        model = md17_mod.GraphAttentionTransformerMD17(**cfg)

        def plain_loss(model, b):
            y, dy = model(node_atom=b.z, pos=b.pos.clone(), batch=b.batch)
            target = ((b.energy.float() - mean) / std).reshape(y.shape)
            return 0.2 * (y - target).abs().mean() + 0.8 * _l2mae(dy, b.forces / std)

        return model, plain_loss
    noise = em.reference_functions(
        ("add_masked_gaussian_noise_to_pos",), em.REF / "main_md17_dens.py"
    )
    noise_fn, c = noise["add_masked_gaussian_noise_to_pos"], MD17_DENS

    def dens_loss(model, b):
        from torch_geometric.data import Data

        data = Data(z=b.z, pos=b.pos.clone(), batch=b.batch, dy=b.forces.clone())
        data.y = ((b.energy.float() - mean) / std).reshape(-1, 1)
        data = noise_fn(data, c["std"], c["prob"], c["corrupt_ratio"])
        y, dy = model(data)
        mask, (we, wf, wn) = data.noise_mask, c["weights"]
        return (
            we * (y - data.y).abs().mean()
            + wf * _l2mae(dy[~mask], data.dy[~mask] / std)
            + wn * _l2mae(dy[mask], data.noise_vec[mask] / c["std"])
        )

    return dens_mod.Equiformer_MD17_DeNS(**cfg), dens_loss


def _oc20_reference(spec: Spec, size: str, norm: dict):
    """(model, loss(model, batch)) of a fairchem / DeNS OC20 reference with its own random
    edge-frame roll; with method ``dens`` a denoising forward with probability
    OC20_DENS["prob"], otherwise none (eSCN ``none``: DeNS's eSCN on clean batches only, as it
    trains 75% of its batches; its unused noise head stays in the optimiser)."""
    import fairchem_models as fm

    attrs = fm.paper_config(spec.reference)["attrs"]
    if size == "reduced":
        attrs["num_layers"] = REDUCED_LAYERS
    model = fm.build(spec.reference, attrs, seed=0, our_frames=False)
    mean, std = norm["energy_mean"], norm["energy_std"]
    dens, c = spec.method == "dens", OC20_DENS  # escn none: the DeNS model, never denoising

    def loss(model, b):
        free = ~b.fixed
        data = SimpleNamespace(
            pos=b.pos.clone(),
            cell=b.cell.clone(),
            natoms=b.natoms.clone(),
            atomic_numbers=b.z.clone(),
            batch=b.batch.clone(),
            pbc=b.pbc.clone(),
        )
        mask = torch.zeros_like(free)
        if dens and torch.rand(()) < c["prob"]:
            mask = free & (torch.rand(free.shape) < c["corrupt_ratio"])
            noise = c["std"] * torch.randn_like(data.pos) * mask[:, None]
            data.pos = data.pos + noise
            data.denoising_pos_forward = True
            data.forces = b.forces.clone()
            data.noise_mask = mask
        out = model(data)
        we, wf, wn = c["weights"]
        target = (b.energy.float() - mean) / std
        total = we * (out["energy"].reshape(-1) - target).abs().mean()
        keep = free & ~mask
        total = total + wf * _l2mae(out["forces"][keep], b.forces[keep] / std)
        if mask.any():
            total = total + wn * _l2mae(out["forces"][mask], noise[mask] / c["std"])
        return total

    return model, loss
