"""ci-check's learning check: first / last ratios of the training loss and the validation
force MAE, read from log.jsonl entries."""

from __future__ import annotations

import pytest

from bench.ci_learning import curves, judge, matrices, report, settings

FACTORS = {"train_loss": 1.25, "val_force_mae": 1.25}


def _log(losses: list[float], val: list[float], steps_per_epoch: int = 2) -> list[dict]:
    entries = []
    for step, loss in enumerate(losses, 1):
        epoch = step / steps_per_epoch
        entries.append({"step": step, "epoch": epoch, "split": "train", "loss": loss})
        if step % steps_per_epoch == 0:
            mae = val[step // steps_per_epoch - 1]
            entries.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "split": "val",
                    "force_mae_mev_per_a": mae,
                    "energy_mae_mev": 1.0,
                }
            )
    return entries


def test_curves_average_the_first_and_last_epoch_and_take_first_and_last_val():
    found = curves(_log([9.0, 7.0, 5.0, 5.0, 3.0, 1.0], [800.0, 600.0, 400.0]))
    assert found == {"train_loss": (8.0, 2.0), "val_force_mae": (800.0, 400.0)}


@pytest.mark.parametrize(
    ("losses", "val", "problems"),
    [
        ([8, 8, 4, 4], [800, 400], [None, None]),
        ([8, 8, 6.4, 6.4], [800, 640], [None, None]),  # exactly x1.25
        ([8, 8, 6.5, 6.5], [800, 400], ["fell by less than x1.25", None]),
        ([8, 8, 4, 4], [800, 700], [None, "fell by less than x1.25"]),
        ([8, 8, 9, 9], [800, 900], ["fell by less than x1.25"] * 2),  # rose
    ],
)
def test_each_quantity_must_fall_by_its_factor(losses, val, problems):
    judged = judge("schnet/dens", _log(losses, val), FACTORS)
    assert [j.quantity for j in judged] == ["train_loss", "val_force_mae"]
    assert [j.problem for j in judged] == problems


def test_a_log_without_validation_fails_and_the_report_names_run_and_numbers():
    judged = judge("escn/none", _log([8, 8, 8, 8], [800, 800])[:2], FACTORS)
    assert [j.problem for j in judged] == ["fell by less than x1.25", "missing from log.jsonl"]
    text = report(judged, {"segnn/dens": "non-finite loss at step 3"}, FACTORS)
    lines = text.splitlines()
    assert lines[0].startswith("ci-check (learning): 0 of 3 checks passed") and "3 FAILED" in text
    assert lines[1] == "  segnn/dens: run failed: non-finite loss at step 3"
    assert lines[2] == "  escn/none train_loss: 8 -> 8 (x1): fell by less than x1.25"
    assert report(judge("a", _log([8, 8, 4, 4], [800, 400]), FACTORS), {}, FACTORS).count("\n") == 1


def test_the_shipped_settings_cover_every_backbone_with_its_own_steps_and_lr():
    from bench.backbones.registry import BACKBONES

    data = settings()
    specs = {m["backbones"][0]: m for m in matrices(data)}
    assert set(specs) == set(BACKBONES)
    assert all(m["methods"] == ["none", "dens"] and m["preset"] == "ci" for m in specs.values())
    assert specs["escn"]["max_steps"] == 300 and specs["schnet"]["max_steps"] == 150
    assert specs["equiformer-v2"]["overrides"] == {"train.lr": 0.003}
    assert all(f > 1 for f in data["factors"].values())
