"""Parity harness for the authors' Equiformer MD17 models (atomicarchitects/equiformer @64cb7866).

Needs the reference checkout in ``tools/parity/reference/equiformer`` and ``tools/parity/stubs``
on ``PYTHONPATH`` (see tools/parity/README.md). Commands (run from the repository root):

    python3 tools/parity/equiformer_md17.py fixtures   # tests/data/parity/equiformer_*.pt
    python3 tools/parity/equiformer_md17.py init-stats # tests/data/parity/equiformer_init.json
    python3 tools/parity/equiformer_md17.py dens-loss  # tests/data/parity/equiformer_dens_loss.pt
    python3 tools/parity/equiformer_md17.py record     # results/parity/equiformer.json

Everything runs in float64 (``torch.set_default_dtype`` before the reference is built: e3nn
bakes its coefficients at build dtype).
"""

from __future__ import annotations

import ast
import datetime
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tools/parity/reference/equiformer"
TIMM = ROOT / "tools/parity/reference/timm"
COMMIT = "64cb7866"
FIXTURES = ROOT / "tests/data/parity"
FRAMES = ("tests/data/rmd17/rmd17_aspirin_train_01.npz", (0, 1))
DENS_YAML = {
    2: "equiformer_dens_N@6_L@2_C@128-64-32.yml",
    3: "equiformer_dens_N@6_L@3_C@128-64-64-32.yml",
}
#: reduced sizes for the committed fixtures (2 heads, 4 radial features and hidden units,
#: feed-forward ratio 1, one block (the last: with its shortcut); the paper-size
#: record covers the other blocks. Files stay small.)
SMALL = {
    2: dict(node="8x0e+4x1e+2x2e", head="4x0e+2x1e+1x2e", sh="1x0e+1x1e+1x2e"),
    3: dict(node="8x0e+4x1e+4x2e+2x3e", head="4x0e+2x1e+2x2e+1x3e", sh="1x0e+1x1e+1x2e+1x3e"),
}
#: feature ratio of the fixtures (L3: 1, to save space; L3 + DeNS then has no shortcut)
SMALL_FEATURE = {2: 2, 3: 1}
#: the one fixture that keeps the reference's derived buffers (Wigner symbols, output masks):
#: the others drop them (the importer ignores them) to stay small
FULL_STATE = (2, False)
#: noised atoms of the DeNS fixtures (frame 0: atoms 0, 3, 7; frame 1: atoms 2, 5)
NOISE_ATOMS = (0, 3, 7, 21 + 2, 21 + 5)


def load_reference():
    """Import the reference ``nets`` package without its ``__init__`` (which pulls OC20 code);
    ``ocpmodels``' Bessel basis, imported but unused by the "exp" basis, is a placeholder."""
    torch.set_default_dtype(torch.float64)
    sys.path.insert(0, str(REF))
    try:
        import ocpmodels  # noqa: F401
    except ImportError:
        names = [
            "ocpmodels",
            "ocpmodels.models",
            "ocpmodels.models.gemnet",
            "ocpmodels.models.gemnet.layers",
            "ocpmodels.models.gemnet.layers.radial_basis",
        ]
        for name in names:
            sys.modules[name] = types.ModuleType(name)
        sys.modules[names[-1]].RadialBasis = type("RadialBasis", (torch.nn.Module,), {})
    nets = types.ModuleType("nets")
    nets.__path__ = [str(REF / "nets")]
    sys.modules["nets"] = nets
    import nets.equiformer_md17_dens as dens_mod
    import nets.graph_attention_transformer as gat_mod
    import nets.graph_attention_transformer_md17 as md17_mod

    gat_mod.NodeEmbeddingNetwork.forward = _one_hot_at_default_dtype
    return md17_mod, dens_mod


def _one_hot_at_default_dtype(self, node_atom):
    """The reference's ``NodeEmbeddingNetwork.forward`` with the one-hot at the default dtype:
    its ``.float()`` would feed float32 into float64 weights (the only float64 obstacle)."""
    onehot = torch.nn.functional.one_hot(node_atom, self.max_atom_type)
    onehot = onehot.to(torch.get_default_dtype())
    return self.atom_type_lin(onehot), onehot, onehot


def reference_config(lmax: int, dens: bool, small: bool) -> dict:
    """Constructor kwargs of the reference model (paper: the authors' MD17 models)."""
    import yaml

    if dens:
        cfg = yaml.safe_load((REF / "md17/configs/equiformer_dens" / DENS_YAML[lmax]).read_text())
        cfg = dict(cfg["model"])
        cfg.pop("name")
    else:
        cfg = dict(
            irreps_in="64x0e",
            max_radius=5.0,
            number_of_basis=32,
            basis_type="exp",
            fc_neurons=[64, 64],
            nonlinear_message=True,
            num_layers=6,
            num_heads=4,
            alpha_drop=0.0,
            proj_drop=0.0,
            out_drop=0.0,
            drop_path_rate=0.0,
            norm_layer="layer",
            rescale_degree=False,
            irreps_pre_attn=None,
        )
    if small:
        s = SMALL[lmax]
        node = s["node"]
        cfg.update(
            irreps_node_embedding=node,
            irreps_sh=s["sh"],
            irreps_head=s["head"],
            num_heads=2,
            num_layers=1,
            number_of_basis=4,
            fc_neurons=[4, 4],
            irreps_mlp_mid=node,
            irreps_feature=_times(node, SMALL_FEATURE[lmax])
            if dens
            else f"{8 * SMALL_FEATURE[lmax]}x0e",
        )
        if dens:
            cfg["irreps_pre_attn"] = node
    elif not dens:
        from e3nn import o3

        node = {2: "128x0e+64x1e+32x2e", 3: "128x0e+64x1e+64x2e+32x3e"}[lmax]
        cfg.update(
            irreps_node_embedding=node,
            irreps_sh=str(o3.Irreps.spherical_harmonics(lmax, p=1)),
            irreps_feature="512x0e",
            irreps_mlp_mid=_times(node, 3),
            irreps_head=_times(node, 1, divide=4),
        )
    return cfg


def _times(irreps: str, k: int, divide: int = 1) -> str:
    from e3nn import o3

    return str(o3.Irreps([(m * k // divide, ir) for m, ir in o3.Irreps(irreps)]))


def build_reference(lmax: int, dens: bool, small: bool, seed: int):
    md17_mod, dens_mod = load_reference()
    torch.manual_seed(seed)
    cfg = reference_config(lmax, dens, small)
    if dens:
        return dens_mod.Equiformer_MD17_DeNS(**cfg), cfg
    return md17_mod.GraphAttentionTransformerMD17(**cfg), cfg


def inputs() -> dict:
    from bench.parity import md17_inputs

    return md17_inputs(ROOT / FRAMES[0], FRAMES[1], NOISE_ATOMS)


def reference_outputs(model, dens: bool, x: dict) -> dict:
    """Reference energy [B] and forces [N, 3] (plain call); with DeNS also the call with
    ``noise_mask``: forces on the other atoms and the noise prediction on the noised ones."""
    from torch_geometric.data import Data

    model.eval()
    out = {}
    if dens:
        data = Data(z=x["z"], pos=x["pos"].clone(), batch=x["batch"])
        energy, forces = model(data)
        out.update(energy=energy.detach().reshape(-1), forces=forces.detach())
        force = torch.where(x["noise_mask"][:, None], x["forces"], 0.0)
        data = Data(
            z=x["z"],
            pos=x["pos"].clone(),
            batch=x["batch"],
            force=force,
            noise_mask=x["noise_mask"],
            denoising_pos_mask=x["noise_mask"],
        )
        energy, dy = model(data)
        out.update(encoded_energy=energy.detach().reshape(-1), encoded_dy=dy.detach())
    else:
        energy, forces = model(x["z"], x["pos"].clone(), x["batch"])
        out.update(energy=energy.detach().reshape(-1), forces=forces.detach())
    return out


def compare(ref: dict, ours: dict) -> dict:
    """{quantity: {max_abs, max_rel}}; relative to the largest reference magnitude."""
    result = {}
    for name, value in ref.items():
        diff = (ours[name] - value).abs().max().item()
        result[name] = {"max_abs": diff, "max_rel": diff / max(value.abs().max().item(), 1e-300)}
    return result


def _split_noise(out: dict, mask: torch.Tensor) -> dict:
    """``encoded_dy`` (noise at the noised atoms, forces elsewhere) as ``noise`` [M, 3] and
    ``encoded_forces`` [N - M, 3]."""
    out = dict(out)
    dy = out.pop("encoded_dy")
    return dict(out, noise=dy[mask], encoded_forces=dy[~mask])


def _kinds():
    return [(lmax, dens) for lmax in (2, 3) for dens in (False, True)]


def _name(lmax: int, dens: bool) -> str:
    return f"l{lmax}{'_dens' if dens else ''}"


def cmd_fixtures() -> None:
    from bench.imports.equiformer import is_derived

    FIXTURES.mkdir(parents=True, exist_ok=True)
    x = inputs()
    for lmax, dens in _kinds():
        model, cfg = build_reference(lmax, dens, small=True, seed=lmax + 10 * dens)
        with torch.no_grad():  # exercise every parameter: perturb the zero-initialised ones
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        out = reference_outputs(model, dens, x)
        state = {
            k: v.detach().clone()
            for k, v in model.state_dict().items()
            if (lmax, dens) == FULL_STATE or not is_derived(k, v)
        }
        fixture = {
            "state_dict": state,  # the reference's own layout: {"state_dict": model.state_dict()}
            "parity": {
                "inputs": {
                    "file": FRAMES[0],
                    "frames": list(FRAMES[1]),
                    "noise_atoms": list(NOISE_ATOMS),
                },
                "outputs": out,
                "config": json.dumps(cfg),
                "reference": f"atomicarchitects/equiformer@{COMMIT}",
                "command": "python3 tools/parity/equiformer_md17.py fixtures",
            },
        }
        path = FIXTURES / f"equiformer_{_name(lmax, dens)}.pt"
        torch.save(fixture, path, _use_new_zipfile_serialization=False)  # no per-tensor padding
        print(path, path.stat().st_size)


def cmd_init_stats(seeds: int = 3) -> None:
    from bench.imports.equiformer import convert
    from bench.parity import pooled_stats

    out = {
        "reference": f"atomicarchitects/equiformer@{COMMIT}",
        "seeds": seeds,
        "command": "python3 tools/parity/equiformer_md17.py init-stats",
        "note": "paper-size reference models at init (torch.manual_seed(0..seeds-1)), "
        "weights mapped to dens-bench names by bench.imports.equiformer; per role "
        "(blocks.* = all blocks but the last): [mean, std, elements pooled]",
        "models": {},
    }
    for lmax, dens in _kinds():
        tensors = []
        for seed in range(seeds):
            model, _ = build_reference(lmax, dens, small=False, seed=seed)
            imported = convert({"state_dict": model.state_dict()}, "reference.pt")
            params = {n for n, _ in _ours_model(imported).named_parameters()}
            tensors += [(k, v) for k, v in imported.state_dict.items() if k in params]
        num_blocks = imported.options["num_blocks"]
        out["models"][_name(lmax, dens)] = pooled_stats(tensors, num_blocks)
        print(_name(lmax, dens), len(out["models"][_name(lmax, dens)]))
    path = FIXTURES / "equiformer_init.json"
    path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(path, path.stat().st_size)


def _ours_model(imported):
    from bench.backbones.registry import build_backbone

    return build_backbone(imported.backbone, imported.preset, "md17", **imported.options)


def cmd_record() -> None:
    from bench.imports.equiformer import convert
    from bench.parity import equiformer_outputs

    x = inputs()
    models = {}
    for lmax, dens in _kinds():
        model, cfg = build_reference(lmax, dens, small=False, seed=0)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01 * torch.randn_like(p))
        ref = reference_outputs(model, dens, x)
        imported = convert({"state_dict": model.state_dict()}, "reference.pt")
        ours = equiformer_outputs(imported, x)
        if dens:
            ref, ours = _split_noise(ref, x["noise_mask"]), _split_noise(ours, x["noise_mask"])
        models[_name(lmax, dens)] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "options": imported.options,
            "differences": compare(ref, ours),
        }
        print(_name(lmax, dens), json.dumps(models[_name(lmax, dens)]["differences"]))
    record = {
        "reference": f"atomicarchitects/equiformer@{COMMIT}",
        "date": datetime.date.today().isoformat(),
        "command": "python3 tools/parity/equiformer_md17.py record",
        "dtype": "float64",
        "mode": "eval",
        "inputs": f"{FRAMES[0]} frames {list(FRAMES[1])}; DeNS: noise on atoms {NOISE_ATOMS}",
        "weights": "reference init (seed 0) + 0.01 N(0, 1) on every parameter, transplanted "
        "by bench.imports.equiformer",
        "models": models,
    }
    path = ROOT / "results/parity/equiformer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(path)


def reference_functions(names: tuple[str, ...], source: Path) -> dict:
    """Top-level functions/classes ``names`` of a reference script, without running the script
    (its imports need timm and the OC20 code): their definitions are compiled alone."""
    tree = ast.parse(source.read_text())
    body = [n for n in tree.body if getattr(n, "name", None) in names]
    namespace = {"torch": torch, "math": math}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(source), "exec"), namespace)  # noqa: S102
    return {n: namespace[n] for n in names}


#: the DeNS loss case: 4 aspirin frames, the reference's noising with these arguments
DENS_CASE = dict(
    frames=(0, 1, 2, 3),
    seed=3,
    std=0.05,
    prob=0.5,
    corrupt_ratio=0.5,
    lambda_energy=0.2,
    lambda_force=0.8,
    denoising_pos_weight=5.0,
    task_mean=-406757.5,
    task_std=5.25,
    epochs=1500,
    lr_epochs=(0, 1, 5, 9, 10, 11, 700, 1499),
    step_epoch=10,
    ema_decay=0.999,
)


def load_timm():
    """timm 0.4.12 (the authors' environment) scheduler and EMA, from its source checkout in
    tools/parity/reference/timm, without timm's ``__init__`` (which needs torchvision)."""
    for name in ("timm", "timm.utils"):
        package = types.ModuleType(name)
        package.__path__ = [str(TIMM / name.replace(".", "/"))]
        sys.modules[name] = package
    import timm.scheduler as scheduler
    import timm.utils.model_ema as model_ema

    return scheduler, model_ema


def reference_args(extra: list[str]):
    """main_md17_dens.py's argparse defaults (plus ``extra``)."""
    import argparse

    parser_fn = reference_functions(("get_args_parser",), REF / "main_md17_dens.py")
    namespace = {"argparse": argparse}
    parser_fn["get_args_parser"].__globals__.update(namespace)
    return parser_fn["get_args_parser"]().parse_args(extra)


def dens_batch(c: dict):
    """The reference DeNS batch: 4 aspirin frames noised by add_masked_gaussian_noise_to_pos."""
    from torch_geometric.data import Batch, Data

    from bench.parity import md17_inputs

    noise_fn = reference_functions(("add_masked_gaussian_noise_to_pos",), REF / "main_md17_dens.py")
    x = md17_inputs(ROOT / FRAMES[0], c["frames"], ())
    energies = torch.as_tensor(np.load(ROOT / FRAMES[0])["energies"][list(c["frames"])])
    datas = [
        Data(
            z=x["z"][x["batch"] == b],
            pos=x["pos"][x["batch"] == b].clone(),
            y=energies[b].reshape(1, 1),
            dy=x["forces"][x["batch"] == b],
        )
        for b in range(len(c["frames"]))
    ]
    data = Batch.from_data_list(datas)
    clean_pos = data.pos.clone()
    torch.manual_seed(c["seed"])
    data = noise_fn["add_masked_gaussian_noise_to_pos"](
        data, c["std"], c["prob"], c["corrupt_ratio"]
    )
    return data, clean_pos


def cmd_dens_loss() -> None:
    """The reference MD17 DeNS training step (main_md17_dens.py) on the L2 + DeNS fixture's
    weights: noising, the three loss terms, the optimiser (optim_factory.create_optimizer),
    the timm cosine schedule and ModelEmaV2. Records masks, noise, terms, the learning rates,
    the no-decay parameters and per-parameter sums of the step and of the EMA update."""
    import copy

    from bench.imports.equiformer import convert, reference_name

    c = DENS_CASE
    loss_cls = reference_functions(("L2MAELoss",), REF / "main_md17.py")["L2MAELoss"]
    decay_fn = reference_functions(("add_weight_decay",), REF / "optim_factory.py")
    scheduler, model_ema = load_timm()
    fixture = torch.load(FIXTURES / "equiformer_l2_dens.pt", weights_only=True)
    model, _ = build_reference(2, True, small=True, seed=0)
    model.load_state_dict(fixture["state_dict"], strict=False)
    data, clean_pos = dens_batch(c)
    args = reference_args(["--epochs", str(c["epochs"])])
    groups = decay_fn["add_weight_decay"](model, args.weight_decay, model.no_weight_decay())
    optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.0, eps=args.opt_eps)
    lr_scheduler, _ = scheduler.create_scheduler(args, optimizer)
    lrs = {}
    for epoch in c["lr_epochs"]:
        lr_scheduler.step(epoch)
        lrs[epoch] = optimizer.param_groups[0]["lr"]
    lr_scheduler.step(c["step_epoch"])
    ema = model_ema.ModelEmaV2(model, decay=c["ema_decay"])

    model.train()
    pred_y, pred_dy = model(data)
    criterion, mean, std, mask = loss_cls(), c["task_mean"], c["task_std"], data.noise_mask
    terms = {
        "energy": c["lambda_energy"] * criterion(pred_y, (data.y - mean) / std),
        "force": c["lambda_force"] * criterion(pred_dy[~mask], data.dy[~mask] / std),
        "noise": c["denoising_pos_weight"]
        * criterion(pred_dy[mask], data.noise_vec[mask] / c["std"]),
    }
    before = copy.deepcopy(model.state_dict())
    optimizer.zero_grad()
    sum(terms.values()).backward()
    optimizer.step()
    ema.update(model)

    def mapped(state: dict) -> dict:  # the reference's tensors under our names
        return convert({"state_dict": state}, "reference.pt").state_dict

    start, after = mapped(before), mapped(model.state_dict())
    averaged = mapped(ema.module.state_dict())
    names = [n for n, _ in _ours_model(convert({"state_dict": before}, "r.pt")).named_parameters()]
    skipped = [n for n, p in model.named_parameters() if any(p is q for q in groups[0]["params"])]
    out = {
        "case": json.dumps(c),
        "reference": f"atomicarchitects/equiformer@{COMMIT}",
        "command": "python3 tools/parity/equiformer_md17.py dens-loss",
        "weights": "tests/data/parity/equiformer_l2_dens.pt",
        "clean_pos": clean_pos,
        "noised_pos": data.pos.detach(),
        "noise_vec": data.noise_vec,
        "noise_mask": mask,
        "denoising_pos_mask": data.denoising_pos_mask,
        "terms": {k: v.detach() for k, v in terms.items()},
        "lr": lrs,
        "step_lr": optimizer.param_groups[0]["lr"],
        "no_decay": sorted(n for n in names if reference_name(n, "energy_head") in skipped),
        "step_sum": {n: (after[n] - start[n]).sum().item() for n in names},
        "ema_sum": {n: (averaged[n] - start[n]).sum().item() for n in names},
    }
    path = FIXTURES / "equiformer_dens_loss.pt"
    torch.save(out, path, _use_new_zipfile_serialization=False)
    print(path, path.stat().st_size, {k: v.item() for k, v in terms.items()}, lrs)


COMMANDS = {
    "fixtures": cmd_fixtures,
    "init-stats": cmd_init_stats,
    "record": cmd_record,
    "dens-loss": cmd_dens_loss,
}

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: equiformer_md17.py {{{'|'.join(COMMANDS)}}}")
    COMMANDS[sys.argv[1]]()
