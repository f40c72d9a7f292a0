"""Reference EquiformerV2 / eSCN models (fairchem 1.9, atomicarchitects/DeNS) for parity.

Builds the authors' models from their own classes and configs, runs them on a fixed OC20
frame (float64), and gives their checkpoints in fairchem's layout. Used by
fairchem_fixtures.py (small fixtures), fairchem_init_stats.py (initialisation statistics)
and fairchem_record.py (paper-size record). Nothing here is imported by dens-bench.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fairchem_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FRAME = ROOT / "tests" / "data" / "oc20_relax" / "random1000156.traj"
DENS_CONFIGS = fairchem_env.DENS_ROOT / "configs"
COMMITS = {
    "fairchem": "FAIR-Chem/fairchem tag fairchem_core-1.9.0",
    "dens": "atomicarchitects/DeNS e98b7470",
}

#: reduced architectures of the fixtures (2 blocks, lmax 2, mmax 1, few channels)
TINY_EQ2 = {
    "num_layers": 2,
    "sphere_channels": 4,
    "attn_hidden_channels": 4,
    "num_heads": 2,
    "attn_alpha_channels": 2,
    "attn_value_channels": 2,
    "ffn_hidden_channels": 4,
    "lmax_list": [2],
    "mmax_list": [1],
    "grid_resolution": 18,
    "edge_channels": 2,
}
TINY_ESCN = {
    "num_layers": 2,
    "sphere_channels": 4,
    "hidden_channels": 8,
    "edge_channels": 4,
    "lmax_list": [2],
    "mmax_list": [1],
    "distance_resolution": 0.2,
}

#: model id -> (layout, reference model name, paper config file under DeNS configs/)
MODELS = {
    "eq2": (
        "fairchem",
        "equiformer_v2",
        "oc20/2M/equiformer_v2/equiformer_dens_v2_N@12_L@6_M@2_lr@2e-4_epochs@12_std@0.1_gpus@16.yml",
    ),
    "eq2_dens": (
        "dens",
        "equiformer_v2_dens",
        "oc20/2M/equiformer_v2/equiformer_dens_v2_N@12_L@6_M@2_lr@2e-4_epochs@12_std@0.1_gpus@16.yml",
    ),
    "escn_dens": ("dens", "escn_dens", "oc20/2M/escn/escn_dens_N@12_L@6_M@2_epochs@20.yml"),
}
#: architecture constants both codes recompute (SO3 tables, index maps, Gaussian offsets, the
#: eSCN sphere points): removed from the fixtures' state dicts to keep them small (released
#: checkpoints hold them; the importer skips them)
from bench.imports.fairchem_keys import CONSTANT_BUFFERS as STRIPPED  # noqa: E402


def paper_config(model_id: str) -> dict:
    """The released YAML config (model section, ``name`` removed) of ``model_id``."""
    layout, name, path = MODELS[model_id]
    cfg = yaml.safe_load((DENS_CONFIGS / path).read_text())
    attrs = dict(cfg["model"])
    attrs.pop("name")
    if name == "equiformer_v2":
        import inspect

        fairchem_env.install()
        from fairchem.core.models.equiformer_v2.equiformer_v2_deprecated import EquiformerV2

        known = inspect.signature(EquiformerV2.__init__).parameters
        attrs = {k: v for k, v in attrs.items() if k in known}
    return {"config": cfg, "attrs": attrs}


def tiny_config(model_id: str) -> dict:
    """The paper config with the reduced architecture (TINY_EQ2 / TINY_ESCN)."""
    out = paper_config(model_id)
    out["attrs"].update(TINY_ESCN if model_id.startswith("escn") else TINY_EQ2)
    return out


def build(model_id: str, attrs: dict, seed: int = 0, our_frames: bool = True) -> torch.nn.Module:
    """The reference model ``model_id`` with ``attrs``, initialised from ``seed``, eval mode.

    ``our_frames``: the reference draws a random roll of each edge frame about the edge on
    every forward; with this, its ``_init_edge_rot_mat`` returns dens-bench's deterministic
    frame instead (one of the frames it samples: both map the edge to +y), so outputs can be
    compared beyond grid-quadrature level. The paper-size record measures both.
    """
    fairchem_env.install()
    torch.manual_seed(seed)
    if model_id == "eq2":
        from fairchem.core.models.equiformer_v2.equiformer_v2_deprecated import EquiformerV2

        model = EquiformerV2(**attrs)
    elif model_id == "eq2_dens":
        from model.equiformer_v2.equiformer_v2_denoising import EquiformerV2S_OC20_DenoisingPos

        model = EquiformerV2S_OC20_DenoisingPos(None, None, None, **attrs)
    else:
        from model.escn.escn_denoising import eSCN_DenoisingPos

        model = eSCN_DenoisingPos(None, None, None, **attrs)
    # fairchem's conditional_grad turns autograd on in forward unless ``direct_forces`` is set;
    # these models' forces are direct, so the graph would only cost memory (GBs at paper size)
    model.direct_forces = True
    if our_frames:
        from bench.backbones.so3.wigner import edge_frames

        model._init_edge_rot_mat = lambda data, edge_index, edge_vec: edge_frames(edge_vec)
    return model.eval()


def frame_inputs(frame: int = 0, path: Path = FRAME) -> dict:
    """Fixed inputs on ``frame`` of an OC20 trajectory (default: the shipped one): positions,
    noisy positions, the forces to encode and the noise mask of a DeNS step (float64,
    seeded)."""
    from ase.io import read

    atoms = read(path, frame)
    gen = torch.Generator().manual_seed(1234)
    n = len(atoms)
    pos = torch.tensor(atoms.positions)
    mask = torch.rand(n, generator=gen) < 0.5
    noise = 0.1 * torch.randn(n, 3, generator=gen) * mask[:, None]
    return {
        "z": torch.tensor(atoms.numbers),
        "pos": pos,
        "cell": torch.tensor(atoms.cell.array),
        "pbc": torch.tensor(atoms.pbc),
        "noisy_pos": pos + noise,
        "noise": noise,
        "noise_mask": mask,
        "forces": torch.tensor(atoms.get_forces(apply_constraint=False)),
    }


def _data(inputs: dict, pos: torch.Tensor) -> SimpleNamespace:
    n = len(inputs["z"])
    return SimpleNamespace(
        pos=pos.clone(),
        cell=inputs["cell"][None].clone(),
        natoms=torch.tensor([n]),
        atomic_numbers=inputs["z"].clone(),
        batch=torch.zeros(n, dtype=torch.long),
        pbc=inputs["pbc"][None].clone(),
    )


def reference_outputs(model: torch.nn.Module, inputs: dict, dens: bool) -> dict:
    """The reference's predictions: ``energy`` [1] and ``forces`` [N, 3] on the clean frame and,
    with DeNS, the denoising forward on the noisy frame (``denoise_energy``, ``noise`` on the
    masked atoms, ``denoise_forces`` elsewhere; both from its combined ``forces`` output).
    Edge frames draw random rolls: seeded, their effect is at grid-quadrature level."""
    torch.manual_seed(0)
    with torch.no_grad():
        out = model(_data(inputs, inputs["pos"]))
        result = {"energy": out["energy"].reshape(-1), "forces": out["forces"]}
        if dens:
            data = _data(inputs, inputs["noisy_pos"])
            data.denoising_pos_forward = True
            data.forces = inputs["forces"].clone()
            data.noise_mask = inputs["noise_mask"].clone()
            out = model(data)
            result |= {"denoise_energy": out["energy"].reshape(-1), "denoise_output": out["forces"]}
    return {k: v.detach().clone() for k, v in result.items()}


def checkpoint(
    model: torch.nn.Module,
    model_id: str,
    cfg: dict,
    ema: bool = False,
    norm: dict | None = None,
    strip: bool = False,
    dtype=torch.float64,
) -> dict:
    """``model`` in fairchem's checkpoint layout: ``state_dict`` with DDP ``module.`` prefixes,
    ``config``, ``epoch``, ``step``, ``normalizers`` when given and, with ``ema``, an
    ``ema_state_dict`` (torch_ema: ``shadow_params`` in parameter order) whose weights differ
    from the raw ones by 1e-3 noise. The weights are stored in ``dtype`` (released
    checkpoints: float32) and ``model`` is reloaded with the stored values (the EMA ones when
    ``ema``), so its outputs are those of the checkpoint's preferred weights. ``strip`` drops
    the STRIPPED constant tables."""
    layout, name, _ = MODELS[model_id]
    _round(model, dtype)
    raw = {
        f"module.{k}": _stored(v, dtype)
        for k, v in model.state_dict().items()
        if not (strip and STRIPPED.search(k))
    }
    shadow = None
    if ema:
        gen = torch.Generator().manual_seed(99)
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(1e-3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        _round(model, dtype)
        shadow = [_stored(p, dtype) for p in model.parameters() if p.requires_grad]
    config = copy.deepcopy(cfg["config"])
    if layout == "fairchem":
        config.pop("model")
        config |= {"model": name, "model_attributes": cfg["attrs"]}
    else:
        config["model"] = {"name": name, **cfg["attrs"]}
    out = {"state_dict": raw, "config": config, "epoch": 1.5, "step": 1000}
    if shadow is not None:
        out["ema_state_dict"] = {
            "decay": 0.999,
            "num_updates": 1000,
            "shadow_params": shadow,
            "collected_params": [],
        }
    if norm is not None:
        out["normalizers"] = norm
    return out


def _stored(t: torch.Tensor, dtype) -> torch.Tensor:
    t = t.detach().clone()
    return t.to(dtype) if t.is_floating_point() else t


def _round(model: torch.nn.Module, dtype) -> None:
    """Round ``model``'s trainable parameters to ``dtype`` values, in place (constant tables
    keep full precision: both codes recompute them)."""
    with torch.no_grad():
        for t in model.parameters():
            if t.requires_grad:
                t.copy_(t.to(dtype).to(t.dtype))


def as_numpy(outputs: dict) -> dict:
    return {
        k: v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in outputs.items()
    }
