"""The moon data set: deterministic under a seed, the phase controls the lit fraction."""
import numpy as np
import pytest

from vae_np.data.moons import make_moons, moon_image, moon_lit_fraction


def test_make_moons_is_deterministic_under_a_seed():
    X1, p1 = make_moons(50, np.random.default_rng(0))
    X2, p2 = make_moons(50, np.random.default_rng(0))
    X3, p3 = make_moons(50, np.random.default_rng(1))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)
    assert X1.shape == (50, 784) and X1.dtype == np.float32
    assert X1.min() >= 0 and X1.max() <= 1
    assert p1.min() >= 0 and p1.max() <= 1


def test_given_phases_are_used():
    phases = np.array([0.0, 0.25, 1.0])
    X, p = make_moons(3, np.random.default_rng(0), phases=phases)
    np.testing.assert_array_equal(p, phases)
    np.testing.assert_array_equal(X[1], moon_image(0.25).reshape(-1))
    with pytest.raises(ValueError, match="phases must have shape"):
        make_moons(2, np.random.default_rng(0), phases=phases)


@pytest.mark.parametrize("size", [16, 28])
def test_phase_controls_the_lit_fraction(size):
    phases = np.linspace(0, 1, 21)
    X, _ = make_moons(len(phases), np.random.default_rng(0), size=size, phases=phases)
    lit = moon_lit_fraction(X)
    np.testing.assert_allclose(lit, phases, atol=0.02)
    assert np.all(np.diff(lit) > 0)                     # strictly more light as the phase grows
    assert lit[0] == pytest.approx(0.0, abs=1e-6) and lit[-1] == pytest.approx(1.0, abs=1e-6)


def test_moon_geometry():
    new, half, full = (moon_image(p) for p in (0.0, 0.5, 1.0))
    assert half.shape == (28, 28)
    # outside the disk is black; the first quarter is lit on the right
    assert new[0, 0] == 0 and full[0, 0] == 0
    assert half[14, 20] == 1.0 and half[14, 7] < 0.5
    # images change continuously with the phase (anti-aliasing)
    assert np.abs(moon_image(0.5) - moon_image(0.51)).max() < 0.5


def test_moon_image_rejects_bad_phase():
    with pytest.raises(ValueError, match=(r"'phase' parameter of moon_image must be a"
                                          r" float in the range \[0.0, 1.0\]")):
        moon_image(1.5)
