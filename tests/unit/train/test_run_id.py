"""Run ids: derived ones do not depend on where the data lives (same experiment, same id on
another machine); given ones are names, never paths."""

from __future__ import annotations

import pytest

from bench.config import resolve_config
from bench.config_checks import check_run_id
from bench.errors import ConfigError
from bench.train.run import default_run_id


def _id(data_root: str, path: str | None = None, **cli) -> str:
    options = {"data.data_root": data_root, **({"data.path": path} if path else {}), **cli}
    return default_run_id(resolve_config("schnet", "none", "ase", "ci", cli=options))


def test_derived_run_id_ignores_the_data_root_and_where_it_is():
    here = _id("/home/a/data", "/home/a/data/oc20/traj")
    assert here == _id("/scratch/b/data", "/scratch/b/data/oc20/traj")
    assert here != _id("/home/a/data", "/home/a/data/oc20/other")
    assert _id("/x", "/x/f.extxyz") == _id("/y", "/z/f.extxyz")  # outside the root: its name
    assert here != _id("/home/a/data", "/home/a/data/oc20/traj", seed=1)


@pytest.mark.parametrize("good", ["run1", "a.b-c_d", "...x", "rmd17-aspirin-s0-1a2b"])
def test_plain_names_are_run_ids(good):
    check_run_id(good)


@pytest.mark.parametrize("bad", ["", ".", "..", "../../x", "/abs/path", "a/b", "a b", "é", "x\n"])
def test_paths_and_odd_names_are_refused(bad):
    with pytest.raises(ConfigError, match="run id must be a name"):
        check_run_id(bad)
