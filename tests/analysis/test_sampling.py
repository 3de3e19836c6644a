"""vae_np.analysis.sampling: straight-line interpolation in pixel and latent space."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis import sampling


def test_lerp_includes_both_ends_and_is_evenly_spaced():
    a, b = np.array([0.0, 10.0]), np.array([4.0, 2.0])
    P = sampling.lerp(a, b, 5)
    np.testing.assert_allclose(P[0], a)
    np.testing.assert_allclose(P[-1], b)
    np.testing.assert_allclose(np.diff(P, axis=0), np.tile((b - a) / 4, (4, 1)))


def test_lerp_keeps_float32_and_validates():
    a = np.zeros(3, np.float32)
    assert sampling.lerp(a, a + 1, 3).dtype == np.float32
    with pytest.raises(ValueError, match="at least 2"):
        sampling.lerp(a, a, 1)
    with pytest.raises(ValueError, match="same length"):
        sampling.lerp(a, np.zeros(4, np.float32), 3)


def test_interpolate_pixels_is_a_cross_fade():
    xa, xb = np.zeros(4), np.ones(4)
    np.testing.assert_allclose(sampling.interpolate_pixels(xa, xb, 3)[1], 0.5)


@pytest.mark.parametrize("cls", [vae_np.VAE, vae_np.Autoencoder])
def test_interpolate_latent_decodes_the_segment_between_codes(small_model, cls):
    model = small_model(cls, dtype=np.float64)
    rng = np.random.default_rng(0)
    xa, xb = rng.random(10), rng.random(10)
    images, Z = sampling.interpolate_latent(model, xa, xb, 4)
    assert images.shape == (4, 10) and Z.shape == (4, 2)
    za = sampling.latent_codes(model, xa[None])[0]
    zb = sampling.latent_codes(model, xb[None])[0]
    np.testing.assert_allclose(Z[0], za)
    np.testing.assert_allclose(Z[-1], zb)
    np.testing.assert_allclose(Z[1], za + (zb - za) / 3)
    np.testing.assert_allclose(images[0], model.reconstruct(xa[None])[0], rtol=1e-10)
    np.testing.assert_allclose(images[2], model.decode(Z[2:3])[0], rtol=1e-10)


def test_interpolate_latent_rejects_wrong_sizes(small_model):
    model = small_model(dtype=np.float64)
    with pytest.raises(ValueError, match="features"):
        sampling.interpolate_latent(model, np.zeros(9), np.zeros(9), 3)
