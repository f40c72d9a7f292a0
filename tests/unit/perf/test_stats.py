"""bench.perf.stats and bench.perf.summary against hand-computed values."""

from __future__ import annotations

import pytest

from bench.perf.clock import PHASES
from bench.perf.stats import block_ratios, blocks, summarize
from bench.perf.summary import summarize_methods, switch_effects


def test_summarize_matches_hand_computed_quartiles():
    s = summarize([4.0, 1.0, 3.0, 2.0, 10.0])
    # sorted 1 2 3 4 10: median 3; linear-interpolated quartiles at ranks 1 and 3 -> 2 and 4
    assert (s["median"], s["q1"], s["q3"], s["iqr"]) == (3.0, 2.0, 4.0, 2.0)
    assert (s["min"], s["max"], s["mean"], s["n"]) == (1.0, 10.0, 4.0, 5)
    with pytest.raises(ValueError, match="empty"):
        summarize([])


def test_blocks_cover_every_index_once_with_balanced_sizes():
    parts = blocks(11, 4)
    assert [len(b) for b in parts] == [3, 3, 3, 2]
    assert [i for b in parts for i in b] == list(range(11))
    with pytest.raises(ValueError, match="repeats=5"):
        blocks(4, 5)


def test_block_ratios_pair_steps_within_each_block():
    times = [2.0, 4.0, 3.0, 3.0]
    base = [1.0, 1.0, 2.0, 4.0]
    assert block_ratios(times, base, 2) == [6.0 / 2.0, 6.0 / 6.0]
    with pytest.raises(ValueError, match="unpaired"):
        block_ratios(times, base[:3], 1)


def _step(total: float, structures: int = 2, atoms: int = 10) -> dict[str, float]:
    phases = dict.fromkeys(PHASES, 0.0) | {
        "data": 0.1 * total,
        "graph": 0.2 * total,
        "forward": 0.7 * total,
    }
    return phases | {"total": total, "structures": structures, "atoms": atoms}


def test_summarize_methods_gives_throughput_shares_and_overhead():
    samples = {
        "none": [_step(1.0), _step(1.0), _step(2.0), _step(2.0)],
        "dens": [_step(1.1), _step(1.3), _step(2.2), _step(2.2)],
    }
    out = summarize_methods(samples, "none", repeats=2)
    none = out["methods"]["none"]
    assert none["structures_per_s"] == pytest.approx(8 / 6.0)
    assert none["atoms_per_s"] == pytest.approx(40 / 6.0)
    assert none["structures_per_s_repeats"]["min"] == pytest.approx(4 / 4.0)
    assert none["data_graph_share"] == pytest.approx(0.3)
    assert sum(none["phase_share"].values()) == pytest.approx(1.0)
    dens = out["overhead"]["dens"]
    assert dens["per_repeat"] == pytest.approx([2.4 / 2.0, 4.4 / 4.0])
    assert dens["ratio"]["median"] == pytest.approx((1.2 + 1.1) / 2)
    assert dens["median_step_ratio"] == pytest.approx(1.75 / 1.5)
    assert set(out["overhead"]) == {"dens"} and out["baseline"] == "none"
    with pytest.raises(ValueError, match="baseline"):
        summarize_methods(samples, "noisy-nodes", 2)


def test_switch_effects_compare_each_arm_with_its_own_method():
    samples = {
        "none": [_step(1.0), _step(2.0)],
        "dens": [_step(2.0), _step(2.0)],
        "none+compile": [_step(0.5), _step(1.5)],
        "dens+compile": [_step(1.0), _step(3.0)],
    }
    arms = {
        "none": ("none", ()),
        "dens": ("dens", ()),
        "none+compile": ("none", ("compile",)),
        "dens+compile": ("dens", ("compile",)),
    }
    out = switch_effects(samples, arms, repeats=2)
    assert set(out) == {"none+compile", "dens+compile"}
    assert out["none+compile"]["per_repeat"] == pytest.approx([0.5, 0.75])
    assert out["dens+compile"]["per_repeat"] == pytest.approx([0.5, 1.5])
    assert out["dens+compile"]["ratio"]["median"] == pytest.approx(1.0)
    assert (out["dens+compile"]["method"], out["dens+compile"]["switches"]) == ("dens", ["compile"])


def test_flop_count_of_a_linear_layer_matches_hand_count():
    """Linear 3 -> 5 on 4 rows: 2*4*3*5 = 120 FLOPs forward; the backward's two products
    (input and weight gradients) as many again each; a double backward adds more."""
    import torch

    from bench.perf.flops import count_flops

    lin = torch.nn.Linear(3, 5)
    x = torch.randn(4, 3, requires_grad=True)
    with torch.no_grad():
        assert count_flops(lambda: lin(x)) == 120
    assert count_flops(lambda: lin(x).square().sum().backward()) == 360

    def double_backward():
        y = lin(x).square().sum()
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (y + g.square().sum()).backward()

    assert count_flops(double_backward) > 360
