import numpy as np
import pytest

from bench.data.stats import NormStats, compute_stats
from bench.data.structure import Structure


def _s(z, energy, forces, fixed=None):
    z = np.array(z)
    forces = np.array(forces, dtype=float)
    return Structure(
        z=z, pos=np.zeros((len(z), 3)), energy=energy, forces=forces, id="x", fixed=fixed
    )


def test_hand_computed_statistics():
    a = _s([1, 8], 1.0, [[1, 0, 0], [0, -2, 0]])
    b = _s([1, 8], 3.0, [[0, 0, 3], [0, 0, 0]], fixed=np.array([False, True]))
    st = compute_stats([a, b])
    assert st.n_structures == 2
    assert st.energy_mean_ev == 2.0 and st.energy_std_ev == 1.0
    # free components: (1,0,0), (0,-2,0), (0,0,3); the fixed atom of b is left out
    assert st.force_rms_ev_per_a == pytest.approx(np.sqrt(14 / 9))
    assert st.force_std_ev_per_a == pytest.approx(np.std([1, 0, 0, 0, -2, 0, 0, 0, 3]))


def test_linear_references_recover_per_element_energies():
    refs = {1: -13.6, 6: -1029.0, 8: -2041.0}
    rng = np.random.default_rng(0)
    structures = []
    for _ in range(12):
        z = rng.choice([1, 6, 8], size=int(rng.integers(2, 7)))
        structures.append(_s(z, sum(refs[int(k)] for k in z), np.zeros((len(z), 3))))
    st = compute_stats(structures, element_refs=True)
    assert st.element_refs_ev == pytest.approx(refs)
    assert st.residual_mean_ev == pytest.approx(0.0, abs=1e-8)
    assert NormStats.from_dict(st.to_dict()) == st


def test_empty_is_an_error():
    with pytest.raises(ValueError, match="0 structures"):
        compute_stats([])


def test_all_atoms_fixed_names_the_files(oc20_frames):
    from dataclasses import replace

    from bench.errors import DataError

    frozen = [replace(s, fixed=np.ones(s.n_atoms, bool)) for s in oc20_frames[:2]]
    with pytest.raises(DataError, match=r"random1000156.traj: field 'fixed': no free atom"):
        compute_stats(frozen)


def test_zero_spread_names_the_files(oc20_frames):
    """One train structure has no energy spread: the error names the file it came from."""
    from bench.config import DataConfig
    from bench.errors import DataError
    from bench.train.setup import normalization

    with pytest.raises(DataError, match=r"random1000156.traj: field 'energy': train split has"):
        normalization(DataConfig(), oc20_frames[:1])
