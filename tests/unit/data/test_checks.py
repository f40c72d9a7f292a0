"""The shared reader checks against independent references (ASE, brute force)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list

from bench.data.checks import MIN_DISTANCE, check_cell, check_finite, check_min_distance
from bench.errors import DataError


def test_float32_boundary():
    check_finite(np.array([3.4e38, -3.4e38]), "f", "x")
    with pytest.raises(DataError, match=r"value 3.5e\+38 at index \(1,\) overflows float32"):
        check_finite(np.array([0.0, 3.5e38]), "f", "x")


def test_cell_height_of_a_skewed_cell():
    """Heights are volume / face area: a long but flat cell is refused, a skewed thick one not."""
    check_cell(np.array([[3.0, 0, 0], [2.9, 0.6, 0], [0, 0, 3.0]]), 1, "f", "cell")
    with pytest.raises(DataError, match=r"tiny cell \(shortest height 0.4 Angstrom"):
        check_cell(np.array([[3.0, 0, 0], [2.9, 0.4, 0], [0, 0, 3.0]]), 1, "f", "cell")


@pytest.mark.parametrize("seed", range(6))
def test_min_distance_matches_ase_with_periodic_images(seed):
    """Random skewed cells with one pair placed across a face: refused exactly when ASE's
    neighbour list (every image) finds a pair closer than MIN_DISTANCE."""
    rng = np.random.default_rng(seed)
    cell = np.diag(rng.uniform(2.0, 4.0, 3)) + rng.uniform(-0.8, 0.8, (3, 3))
    frac = rng.uniform(0, 1, (6, 3))
    frac[1] = frac[0] + [1.0, 0.0, -1.0] + rng.uniform(-0.04, 0.04, 3)  # an image of atom 0
    pos = frac @ cell
    atoms = Atoms("H6", positions=pos, cell=cell, pbc=True)
    close = len(neighbor_list("i", atoms, MIN_DISTANCE)) > 0
    if close:
        with pytest.raises(DataError, match="atoms 0 and 1 are"):
            check_min_distance(pos, "f", "pos", cell, np.ones(3, bool))
    else:
        check_min_distance(pos, "f", "pos", cell, np.ones(3, bool))
    # without periodicity the pair is far apart
    check_min_distance(pos, "f", "pos")


def test_min_distance_over_frames_names_the_frame():
    pos = np.tile(np.eye(3) * 2.0, (5, 1, 1))
    pos[3, 2] = pos[3, 0] + 0.01
    with pytest.raises(DataError, match="frame 3: atoms 0 and 2 are 0.0173 Angstrom apart"):
        check_min_distance(pos, "f", "coords")
