"""bench.perf.train: the run config, the phase probe on a real Trainer, a whole measurement."""

from __future__ import annotations

import time

import pytest

from bench.perf.clock import PHASES, StepProbe
from bench.perf.memory_child import measure_in_child
from bench.perf.train import (
    TIMING_ALLOCATOR,
    TrainBenchOptions,
    build_trainer,
    run_config,
    run_train_bench,
)
from bench.train.schedule import fit_warmup
from bench.train.setup import load_split

OPTS = dict(backbone="schnet", preset="ci", batch_size=2, steps=4, warmup=1, repeats=2)


def test_run_config_is_the_bench_run_config_with_a_small_pool():
    cfg = run_config(TrainBenchOptions(**OPTS), "dens")
    assert (cfg.data.name, cfg.data.molecule, cfg.method.name) == ("rmd17", "aspirin", "dens")
    assert (cfg.data.n_train, cfg.data.n_val, cfg.train.max_steps) == (8, 0, 5)
    assert cfg.method.params.p_dens == 0.25  # the paper-v1 MD17 profile
    cfg = run_config(TrainBenchOptions(**OPTS, overrides=("data.n_train=6",)), "none")
    assert cfg.data.n_train == 6


def test_a_short_measurement_of_a_paper_schedule_fits_its_warmup():
    # paper MD17: a 10-epoch warm-up of 1500 epochs; 5 steps over 4 batches is 1.25 epochs
    opts = TrainBenchOptions(**OPTS | {"preset": "paper", "backbone": "equiformer"})
    cfg = run_config(opts, "none")
    assert (cfg.train.epochs, cfg.train.warmup_epochs, cfg.train.max_steps) == (1500, 10, 5)
    warmup, unit, note = fit_warmup(cfg.train.warmup_epochs, cfg.train.epochs, 5 / 4, "epoch")
    assert warmup < 5 / 4 and unit == "step" and note


def test_options_reject_bad_values():
    with pytest.raises(ValueError, match="repeats=5"):
        TrainBenchOptions(backbone="schnet", steps=4, repeats=5)
    with pytest.raises(ValueError, match="distinct"):
        TrainBenchOptions(backbone="schnet", methods=("none", "none"))
    assert TrainBenchOptions(backbone="schnet", methods=("dens", "none")).baseline == "none"


@pytest.mark.parametrize("workers", [0, 1])
def test_probe_splits_a_real_training_step_into_phases(workers):
    overrides = (f"train.loader_workers={workers}",)
    cfg = run_config(TrainBenchOptions(**OPTS, overrides=overrides), "dens")
    trainer = build_trainer(cfg, load_split(cfg.data))
    prepare = trainer.method.prepare

    def slow_prepare(*args, **kwargs):
        time.sleep(0.05)
        return prepare(*args, **kwargs)

    trainer.method.prepare = slow_prepare
    probe = StepProbe(trainer, "cpu")
    sample = probe.step(trainer.one_step)
    assert trainer.step == 1
    assert (sample["structures"], sample["atoms"]) == (2, 42)  # two aspirins
    assert sample["corrupt"] >= 0.05
    assert all(sample[p] >= 0 for p in PHASES[:-1])
    assert sum(sample[p] for p in PHASES) == pytest.approx(sample["total"])
    with pytest.raises(RuntimeError, match="never reached"):
        probe.step(lambda: None)


def test_measurement_compares_methods_on_the_same_steps():
    out = run_train_bench(TrainBenchOptions(**OPTS, profile_top=3, flop_steps=2))
    res, cfg = out["results"], out["config"]
    assert set(res["methods"]) == {"none", "dens"} and res["baseline"] == "none"
    none, dens = res["methods"]["none"], res["methods"]["dens"]
    assert none["steps"] == dens["steps"] == 4
    assert dens["params"] > none["params"]  # the DeNS model has its encoder and noise head
    assert none["peak_memory_mb"] > 0
    memory = res["memory"]  # measured in a pinned child; the steps were timed here, unpinned
    assert memory["measured_in"] == "a child process, 2 steps per arm"
    assert memory["timing_allocator"] == TIMING_ALLOCATOR
    assert memory["allocator"].startswith(("glibc, M_MMAP_THRESHOLD=", "default ("))
    assert all(
        res["methods"][a]["peak_memory_mb"] > memory["baseline_mb"] for a in ("none", "dens")
    )
    assert sum(none["phase_share"].values()) == pytest.approx(1.0)
    ratio = res["overhead"]["dens"]
    assert ratio["ratio"]["n"] == 2 and len(ratio["per_repeat"]) == 2
    assert all(r > 0 for r in ratio["per_repeat"])
    assert [len(v) for v in res["profile"].values()] == [3, 3]
    flops = res["flops"]
    assert flops["none"]["ratio"] == 1.0 and flops["none"]["per_step"] > 0
    assert flops["dens"]["ratio"] > 1.0  # force-aware edge features and the noise head
    assert cfg["run_configs"]["none"]["train"]["max_steps"] == 1 + 4 + 2 + 1
    assert cfg["batch_size"] == 2 and cfg["n_train"] == 8
    assert cfg["run_configs"]["dens"]["method"]["name"] == "dens"


def test_arms_cover_every_method_with_each_switch_combination():
    opts = TrainBenchOptions(backbone="escn", amp=True, compile=True)
    assert list(opts.arms()) == [
        "none",
        "dens",
        "none+amp",
        "dens+amp",
        "none+compile",
        "dens+compile",
        "none+amp+compile",
        "dens+amp+compile",
    ]
    assert opts.arms()["dens+amp+compile"] == ("dens", ("amp", "compile"))
    assert list(TrainBenchOptions(backbone="schnet").arms()) == ["none", "dens"]


def test_amp_arms_run_with_autocast_and_are_compared_with_their_method():
    out = run_train_bench(TrainBenchOptions(**OPTS, amp=True))
    res, runs = out["results"], out["config"]["run_configs"]
    assert set(res["methods"]) == {"none", "dens", "none+amp", "dens+amp"}
    assert set(res["overhead"]) == {"dens", "none+amp", "dens+amp"}  # all against plain none
    effect = res["switches"]["dens+amp"]
    assert (effect["method"], effect["switches"], len(effect["per_repeat"])) == ("dens", ["amp"], 2)
    assert set(res["switches"]) == {"none+amp", "dens+amp"}
    assert runs["dens+amp"]["train"]["amp"] and not runs["dens"]["train"]["amp"]
    assert runs["dens+amp"]["method"] == runs["dens"]["method"]
    assert [len(res["methods"][a]["warmup_step_s"]) for a in res["methods"]] == [1, 1, 1, 1]


def test_compile_of_a_gradient_force_backbone_is_a_config_error():
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="train.compile"):
        run_train_bench(TrainBenchOptions(**OPTS, compile=True))


def test_a_failing_memory_child_is_one_clear_error():
    bad = TrainBenchOptions(**OPTS).to_dict() | {"backbone": "no-such-backbone"}
    with pytest.raises(RuntimeError, match="memory child exited 1: .*no-such-backbone"):
        measure_in_child(bad, threads=1)
