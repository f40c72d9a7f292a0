"""Initialisation statistics of the reference EquiformerV2 / eSCN at the paper size.

Builds each reference model (DeNS configs: EquiformerV2 S2EF-2M with and without the DeNS
heads, eSCN with them) from a few seeds and records, per parameter under dens-bench's name,
the mean and standard deviation of its initial values (pooled over the seeds), into
tests/data/parity/fairchem_init_stats.json.gz with commit, config and command. With
``--compare`` it also builds dens-bench's paper preset from the same seeds and prints every
parameter whose statistics differ beyond sampling error (tests/unit/backbones/
test_init_parity.py runs that comparison from the JSON, slow).

    PYTHONPATH=$PWD python3 tools/parity/fairchem_init_stats.py eq2_dens [--compare]
"""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fairchem_models as fm  # noqa: E402

OUT = fm.ROOT / "tests" / "data" / "parity" / "fairchem_init_stats.json.gz"
SEEDS = (0, 1, 2)
#: model id -> dens-bench (backbone, dens heads)
OURS = {
    "eq2": ("equiformer-v2", False),
    "eq2_dens": ("equiformer-v2", True),
    "escn_dens": ("escn", True),
}


def accumulate(pooled: dict, state: dict[str, torch.Tensor]) -> None:
    """Add one seed's tensors to running [sum, sum of squares, count] per name."""
    for name, t in state.items():
        x = t.detach().double()
        acc = pooled.setdefault(name, [0.0, 0.0, 0, x.numel()])
        acc[0] += float(x.sum())
        acc[1] += float((x * x).sum())
        acc[2] += x.numel()


def stats(pooled: dict) -> dict[str, list[float]]:
    """name -> [mean, std, numel] pooled over seeds, 6 significant digits."""
    out = {}
    for name, (total, squares, count, numel) in pooled.items():
        mean = total / count
        var = max(squares / count - mean * mean, 0.0) * count / max(count - 1, 1)
        out[name] = [float(f"{mean:.6g}"), float(f"{var**0.5:.6g}"), numel]
    return out


def reference_stats(model_id: str) -> dict[str, list[float]]:
    """Statistics of the reference's trainable parameters under dens-bench names."""
    from bench.backbones.registry import build_backbone
    from bench.imports.fairchem_keys import EQUIFORMER_V2_RENAMES, ESCN_RENAMES, rename_state

    cfg = fm.paper_config(model_id)
    backbone, dens = OURS[model_id]
    pooled: dict = {}
    expected = None
    for seed in SEEDS:
        model = fm.build(model_id, cfg["attrs"], seed=seed)
        params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
        del model
        if expected is None:
            from bench.imports.fairchem_keys import equiformer_v2_options, escn_options

            read = escn_options if backbone == "escn" else equiformer_v2_options
            expected = build_backbone(
                backbone,
                "paper",
                "oc20",
                force_encoding=dens,
                noise_head=dens,
                **read(cfg["attrs"], "config"),
            ).state_dict()
        renames = ESCN_RENAMES if backbone == "escn" else EQUIFORMER_V2_RENAMES
        accumulate(pooled, rename_state(params, renames, expected, "reference", "x"))
        del params
    return stats(pooled)


def our_stats(model_id: str) -> dict[str, list[float]]:
    """Statistics of dens-bench's paper preset (OC20) from the same seeds."""
    from bench.backbones.registry import build_backbone

    backbone, dens = OURS[model_id]
    pooled: dict = {}
    for seed in SEEDS:
        torch.manual_seed(seed)
        model = build_backbone(backbone, "paper", "oc20", force_encoding=dens, noise_head=dens)
        accumulate(pooled, dict(model.named_parameters()))
        del model
    return stats(pooled)


def mismatches(ref: dict, ours: dict, sigmas: float = 6.0) -> list[str]:
    """Parameters whose mean or std differ beyond ``sigmas`` standard errors (constants:
    exactly), plus names present on one side only."""
    bad = [f"{k}: only in the reference" for k in ref if k not in ours]
    bad += [f"{k}: only in dens-bench" for k in ours if k not in ref]
    for name in sorted(set(ref) & set(ours)):
        (m_r, s_r, n), (m_o, s_o, _) = ref[name], ours[name]
        n_all = n * len(SEEDS)
        tol_mean = sigmas * max(s_r, s_o) / n_all**0.5 + 1e-6 * abs(m_r) + 1e-12
        tol_std = sigmas * max(s_r, s_o) / (2 * n_all) ** 0.5 + 1e-12
        if abs(m_r - m_o) > tol_mean or abs(s_r - s_o) > tol_std:
            bad.append(
                f"{name}: reference mean {m_r:.4g} std {s_r:.4g}, "
                f"dens-bench mean {m_o:.4g} std {s_o:.4g} (n={n})"
            )
    return bad


def main() -> None:
    torch.set_default_dtype(torch.float64)
    model_id = sys.argv[1]
    ref = reference_stats(model_id)
    data = json.loads(gzip.decompress(OUT.read_bytes())) if OUT.exists() else {}
    layout, name, config = fm.MODELS[model_id]
    data[model_id] = {
        "reference": fm.COMMITS[layout],
        "reference_model": name,
        "config": f"DeNS configs/{config}, model section",
        "seeds": list(SEEDS),
        "stats": "per parameter (dens-bench names): [mean, std, numel], pooled over seeds",
        "date": str(date.today()),
        "command": f"PYTHONPATH=$PWD python3 tools/parity/fairchem_init_stats.py {model_id}",
        "parameters": ref,
    }
    OUT.write_bytes(gzip.compress((json.dumps(data, sort_keys=True) + "\n").encode(), mtime=0))
    if "--compare" in sys.argv:
        bad = mismatches(ref, our_stats(model_id))
        print(f"{model_id}: {len(ref)} parameters, {len(bad)} differ")
        print("\n".join(bad))


if __name__ == "__main__":
    main()
