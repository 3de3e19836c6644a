"""vae_np.analysis.metrics: rate/distortion, per-dimension KL, active units, naive BCE, nearest
template."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis import metrics
from vae_np.nn import losses


def _tiny_vae(likelihood="bernoulli", seed=0):
    return vae_np.VAE(12, [8], 3, likelihood=likelihood, seed=seed, dtype=np.float64)


def test_encode_all_matches_encode_in_one_batch():
    model = _tiny_vae()
    X = np.random.default_rng(0).random((25, 12))
    mu, logvar = metrics.encode_all(model, X, batch_size=7)
    mu1, logvar1 = model.encode(X)
    np.testing.assert_allclose(mu, mu1, rtol=1e-12)
    np.testing.assert_allclose(logvar, logvar1, rtol=1e-12)
    assert mu.dtype == np.float64 and mu.shape == (25, 3)


def test_encode_all_rejects_an_autoencoder():
    ae = vae_np.Autoencoder(12, [8], 3, dtype=np.float64)
    with pytest.raises(TypeError, match="posterior variance"):
        metrics.encode_all(ae, np.zeros((2, 12)))


def test_kl_per_dimension_sums_to_the_mean_kl():
    rng = np.random.default_rng(1)
    mu, logvar = rng.standard_normal((50, 4)), rng.standard_normal((50, 4))
    per_dim = metrics.kl_per_dimension(mu, logvar)
    assert per_dim.shape == (4,)
    assert per_dim.sum() == pytest.approx(losses.kl_normal_std_per_example(mu, logvar).mean(),
                                          rel=1e-12)
    # a dimension whose posterior is the prior for every input costs nothing
    mu[:, 2], logvar[:, 2] = 0.0, 0.0
    assert metrics.kl_per_dimension(mu, logvar)[2] == 0.0


def test_kl_per_dimension_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="features"):
        metrics.kl_per_dimension(np.zeros((3, 2)), np.zeros((3, 4)))


def test_active_units_counts_dimensions_whose_mean_varies():
    rng = np.random.default_rng(2)
    mu = np.column_stack([rng.standard_normal(1000),            # active, variance ~1
                          0.05 * rng.standard_normal(1000),     # variance ~0.0025: inactive
                          np.full(1000, 3.0),                   # constant: inactive
                          0.5 * rng.standard_normal(1000)])     # variance ~0.25: active
    n_active, var = metrics.active_units(mu)
    assert n_active == 2
    np.testing.assert_allclose(var, mu.var(axis=0))
    assert metrics.active_units(mu, threshold=1e-4)[0] == 3


def test_active_units_validates_input():
    with pytest.raises(ValueError, match="at least 2"):
        metrics.active_units(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="threshold"):
        metrics.active_units(np.zeros((4, 3)), threshold=0)


def test_rate_distortion_adds_up_to_the_elbo():
    model = _tiny_vae()
    X = (np.random.default_rng(3).random((40, 12)) < 0.5).astype(float)
    rd = metrics.rate_distortion(model, X, np.random.default_rng(4), n_samples=3, batch_size=9)
    elbo = model.elbo(X, np.random.default_rng(4), n_samples=3, batch_size=9).mean()
    assert rd["elbo"] == pytest.approx(elbo, rel=1e-12)
    assert rd["rate"] + rd["distortion"] == pytest.approx(-elbo, rel=1e-12)
    mu, logvar = model.encode(X)
    assert rd["rate"] == pytest.approx(losses.kl_normal_std_per_example(mu, logvar).mean())
    assert rd["rate"] > 0 and rd["distortion"] > 0


def test_naive_bce_agrees_with_the_stable_form_for_moderate_logits():
    rng = np.random.default_rng(5)
    logits = rng.uniform(-8, 8, (6, 10))
    X = rng.random((6, 10))
    np.testing.assert_allclose(metrics.bernoulli_nll_naive(logits, X),
                               -losses.bernoulli_log_prob(logits, X), rtol=1e-10)


@pytest.mark.parametrize("dtype, big", [(np.float32, 20.0), (np.float64, 40.0)])
def test_naive_bce_breaks_where_the_stable_form_does_not(dtype, big):
    logits = np.array([[big], [big], [-100.0], [-800.0]], dtype=dtype)
    X = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=dtype)
    naive = metrics.bernoulli_nll_naive(logits, X)
    assert np.isposinf(naive[0])        # p rounds to 1: -log(1 - 1) = inf
    assert np.isnan(naive[1])           # 0 * log(0) = nan, although the prediction is right
    if dtype == np.float32:
        assert np.isposinf(naive[2])    # exp(100) overflows in float32: p = 0, -log 0 = inf
    assert np.isnan(naive[3])           # x = 0, p = 0: 0 * log(0) = nan, a right prediction
    stable = -losses.bernoulli_log_prob(logits.astype(np.float64), X.astype(np.float64))
    assert np.isfinite(stable).all()
    np.testing.assert_allclose(stable, [big, 0.0, 100.0, 0.0], atol=1e-6)


def test_naive_bce_validates_shapes():
    with pytest.raises(ValueError, match="shape"):
        metrics.bernoulli_nll_naive(np.zeros((2, 3)), np.zeros((2, 4)))


def test_nearest_template_finds_the_closest_and_its_rms_distance():
    templates = np.eye(4)
    images = np.array([[0.0, 1.0, 0.0, 0.0],      # exactly template 1
                       [0.5, 0.0, 0.5, 0.0],      # a blend of 0 and 2: ties go to the first
                       [0.0, 0.0, 0.1, 0.9]])
    idx, rms = metrics.nearest_template(images, templates)
    np.testing.assert_array_equal(idx, [1, 0, 3])
    np.testing.assert_allclose(rms, [0.0, np.sqrt(0.5 / 4), np.sqrt(0.02 / 4)], atol=1e-12)


def test_nearest_template_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="features"):
        metrics.nearest_template(np.zeros((2, 4)), np.zeros((3, 5)))
