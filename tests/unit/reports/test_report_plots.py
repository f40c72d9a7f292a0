"""Plots produce non-empty PNG files; parity reads predictions.npz."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.errors import ConfigError, DataError
from bench.reports import load_runs
from bench.reports.plots import PREDICTIONS_FILE, make_plot

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000


@pytest.mark.parametrize("kind", ["learning-curves", "sample-efficiency"])
def test_plots_from_fixture(runs, tmp_path, kind):
    out = make_plot(kind, runs, tmp_path / "sub" / f"{kind}.png")
    assert_png(out)
    assert [p.name for p in out.parent.iterdir()] == [f"{kind}.png"]  # no temp file left


def test_parity_reads_predictions(results_dir, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(results_dir / "ci", root / "ci")
    rng = np.random.default_rng(0)
    true = rng.normal(size=(30, 3))
    np.savez(
        root / "ci" / "dens-aspirin" / PREDICTIONS_FILE,
        forces_true=true,
        forces_pred=true + 0.01 * rng.normal(size=(30, 3)),
    )
    assert_png(make_plot("parity", load_runs(root), tmp_path / "parity.png"))
    np.savez(
        root / "ci" / "none-aspirin" / PREDICTIONS_FILE, forces_true=true, forces_pred=true[:, :2]
    )
    with pytest.raises(DataError, match="forces_pred"):
        make_plot("parity", load_runs(root), tmp_path / "bad.png")


def test_plot_errors(runs, tmp_path):
    with pytest.raises(DataError, match=PREDICTIONS_FILE):
        make_plot("parity", runs, tmp_path / "p.png")
    with pytest.raises(ConfigError, match="unknown plot"):
        make_plot("histogram", runs, tmp_path / "p.png")
    no_logs = [r for r in runs if not (r.run_dir / "log.jsonl").exists()]
    with pytest.raises(DataError, match="log.jsonl"):
        make_plot("learning-curves", no_logs, tmp_path / "p.png")


def test_the_extension_picks_the_format_and_png_is_300_dpi(runs, tmp_path):
    pdf = make_plot("sample-efficiency", runs, tmp_path / "se.pdf")
    svg = make_plot("sample-efficiency", runs, tmp_path / "se.svg")
    png = make_plot("sample-efficiency", runs, tmp_path / "se.png")
    assert pdf.read_bytes().startswith(b"%PDF") and b"<svg" in svg.read_bytes()[:400]
    data = png.read_bytes()
    at = data.index(b"pHYs")
    assert int.from_bytes(data[at + 4 : at + 8], "big") * 0.0254 == pytest.approx(300, abs=1)
    with pytest.raises(ConfigError, match="unknown figure format 'jpg'"):
        make_plot("sample-efficiency", runs, tmp_path / "se.jpg")


def test_learning_curves_are_validation_force_mae_by_backbone_and_method(runs):
    from bench.reports.plots import learning_curves
    from bench.reports.runs import iter_log

    ax = learning_curves(runs).axes[0]
    assert ax.get_ylabel() == "validation force MAE (meV/Å)" and ax.get_yscale() == "log"
    with_val = {r.name: r for r in runs if any(line.get("split") == "val" for line in iter_log(r))}
    lines = ax.get_lines()
    assert len(lines) == len(with_val) == 3
    for line in lines:
        name = line.get_label().split("(")[-1].rstrip(")")
        assert line.get_label().startswith("equiformer / ")
        val = [x["force_mae_mev_per_a"] for x in iter_log(with_val[name]) if x["split"] == "val"]
        assert list(line.get_ydata()) == val


def test_learning_curves_tell_scales_apart(runs):
    """Runs of one scale share a marker and plain labels; a run trained longer (or on more
    structures) gets its own marker and every label names its scale."""
    import dataclasses

    from bench.reports.plots import learning_curves
    from bench.reports.runs import iter_log

    drawn = [r for r in runs if any(line.get("split") == "val" for line in iter_log(r))]

    def at(run, **scale):
        record = dataclasses.replace(run.record, scale={**run.record.scale, **scale})
        return dataclasses.replace(run, record=record)

    same = learning_curves([at(r, epochs=150, n_train=100) for r in drawn]).axes[0]
    assert {line.get_marker() for line in same.get_lines()} == {"o"}
    assert not any("epochs" in line.get_label() for line in same.get_lines())

    mixed = [at(drawn[0], epochs=600, n_train=100)]
    mixed += [at(r, epochs=150, n_train=100) for r in drawn[1:]]
    lines = {
        line.get_label().split("(")[-1].rstrip(")"): line
        for line in learning_curves(mixed).axes[0].get_lines()
    }
    long, short = lines[drawn[0].name], [lines[r.name] for r in drawn[1:]]
    assert "n_train 100, 600 epochs" in long.get_label()
    assert all("n_train 100, 150 epochs" in line.get_label() for line in short)
    assert {line.get_marker() for line in short} == {"o"} and long.get_marker() != "o"


def test_parity_draws_one_panel_per_method(results_dir, tmp_path):
    from bench.reports.plots import parity

    root = tmp_path / "results"
    shutil.copytree(results_dir / "ci", root / "ci")
    true = np.random.default_rng(1).normal(size=(12, 3))
    for name in ("dens-aspirin", "none-aspirin"):
        np.savez(
            root / "ci" / name / PREDICTIONS_FILE,
            forces_true=true,
            forces_pred=true,
            free=np.arange(12) > 1,
        )
    fig = parity(load_runs(root))
    assert [ax.get_title() for ax in fig.axes] == ["none", "dens"]
    assert all(len(ax.collections[0].get_offsets()) == 10 * 3 for ax in fig.axes)  # free only


def test_sample_efficiency_separates_step_budgets(runs):
    import copy
    import dataclasses

    from bench.reports.plots import sample_efficiency

    schnet = [r for r in runs if r.name.startswith("schnet/") and "none" in r.name]
    assert len(schnet) == 2  # n_train 16 and 64, one line when the budget is the same

    def with_steps(run, steps, bounded_by_steps=True):
        config = copy.deepcopy(run.record.config)
        if bounded_by_steps:
            config["train"]["max_steps"] = steps
        record = dataclasses.replace(run.record, steps=steps, config=config)
        return dataclasses.replace(run, record=record)

    def lines(ax) -> list[str]:  # legend entries of run lines (not the paper-marker note)
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        return [t for t in texts if not t.startswith("open: paper")]

    same = sample_efficiency([with_steps(r, 100) for r in schnet]).axes[0]
    assert lines(same) == ["schnet / none (md17 ethanol), 100 steps [preset ci]"]
    split = sample_efficiency([with_steps(schnet[0], 100), with_steps(schnet[1], 400)]).axes[0]
    assert len(lines(split)) == 2
    # epoch-bounded runs: more structures take more steps at the same 3 epochs, one line
    epochs = [with_steps(schnet[0], 12, False), with_steps(schnet[1], 48, False)]
    assert lines(sample_efficiency(epochs).axes[0]) == [
        "schnet / none (md17 ethanol), 3 epochs [preset ci]"
    ]


def test_sample_efficiency_separates_weight_inits(runs):
    """A uniform-init run is another line than the normal-init (or pre-key) ones."""
    import copy
    import dataclasses

    from bench.reports.plots import sample_efficiency

    base = next(r for r in runs if r.name == "rmd17/dens-aspirin")

    def with_init(value):
        config = copy.deepcopy(base.record.config)
        if value is None:
            config["model"]["options"].pop("weight_init", None)
        else:
            config["model"]["options"]["weight_init"] = value
        return dataclasses.replace(base, record=dataclasses.replace(base.record, config=config))

    ax = sample_efficiency([with_init(None), with_init("normal"), with_init("uniform")]).axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts() if "open: paper" not in t.get_text()]
    assert len(texts) == 2
    assert sum("weight_init uniform" in t for t in texts) == 1


def test_sample_efficiency_draws_the_paper_point_of_each_matching_line(runs):
    from bench.reports.plots import PAPER_N_TRAIN, paper_force_mae, sample_efficiency

    by_name = {r.name: r for r in runs}
    # Table 6 (Equiformer Lmax 2, aspirin forces, paper-v1): none 7.2, dens 5.7; Lmax 3: Table 4
    assert paper_force_mae(by_name["ci/none-aspirin"]) == (950, 7.2)
    assert paper_force_mae(by_name["rmd17/dens-aspirin"]) == (950, 5.7)
    assert paper_force_mae(by_name["md17/aspirin/equiformer-none-seed0-copy"]) == (950, 6.6)
    assert paper_force_mae(by_name["oc/eqv2-dens-oc22"]) is None  # no MD17 cell
    ax = sample_efficiency(runs).axes[0]
    points = sorted(
        (float(line.get_ydata()[0]), line.get_color())
        for line in ax.get_lines()
        if line.get_gid() == "paper"
    )
    assert all(
        float(line.get_xdata()[0]) == PAPER_N_TRAIN["md17"]
        for line in ax.get_lines()
        if line.get_gid() == "paper"
    )
    assert (5.7, "C3") in points and (7.2, "C0") in points and (9.1, "C2") in points
    assert any(
        t.get_text().startswith("open: paper (paper-v1") for t in ax.get_legend().get_texts()
    )
