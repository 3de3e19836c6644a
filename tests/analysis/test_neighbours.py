"""vae_np.analysis.neighbours: nearest training neighbours in pixel space."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis.neighbours import nearest_neighbours


def test_nearest_neighbours_match_brute_force_in_any_batch_size():
    rng = np.random.default_rng(0)
    Q, R = rng.random((13, 6)), rng.random((20, 6))
    d = np.sqrt(((Q[:, None, :] - R[None]) ** 2).mean(axis=2))
    for batch_size in (1, 5, 500):
        index, rms = nearest_neighbours(Q, R, batch_size)
        np.testing.assert_array_equal(index, d.argmin(axis=1))
        np.testing.assert_allclose(rms, d.min(axis=1), rtol=1e-12)


def test_a_copy_of_a_reference_is_at_distance_zero():
    R = np.random.default_rng(1).random((10, 784))
    index, rms = nearest_neighbours(R[[3, 7]], R)
    np.testing.assert_array_equal(index, [3, 7])
    np.testing.assert_allclose(rms, 0.0, atol=1e-12)


def test_nearest_neighbours_validate():
    with pytest.raises(ValueError, match="features"):
        nearest_neighbours(np.zeros((2, 3)), np.zeros((4, 5)))
    with pytest.raises(vae_np.InvalidParameterError, match="batch_size"):
        nearest_neighbours(np.zeros((2, 3)), np.zeros((4, 3)), batch_size=0)
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbours(np.full((1, 3), np.nan), np.zeros((4, 3)))
