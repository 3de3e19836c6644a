"""vae_np.analysis.evidence: the naive prior-sampling estimate of log p(x)."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis.evidence import pairwise_log_px, prior_log_likelihood
from vae_np.nn.losses import gaussian_log_prob, log_normal_std, logsumexp


def _data(n, d, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.4).astype(np.float64)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_pairwise_log_px_scores_every_pair_like_the_model(small_model, likelihood):
    model = small_model(dtype=np.float64, likelihood=likelihood, obs_std=0.7)
    X = _data(4, 10)
    out = model.decoder.forward(np.random.default_rng(1).standard_normal((6, 2)))
    P = pairwise_log_px(model, X, out)
    assert P.shape == (4, 6) and P.dtype == np.float64
    for i in range(4):
        np.testing.assert_allclose(P[i], model._log_px(out, np.tile(X[i], (6, 1))), rtol=1e-12)
    if likelihood == "gaussian":                     # the constant of the density is included
        np.testing.assert_allclose(P[0, 0], gaussian_log_prob(out[:1], X[:1], 0.7)[0])


def test_prior_log_likelihood_is_the_nested_log_mean_of_prior_likelihoods(small_model):
    model = small_model(dtype=np.float64)
    X = _data(3, 10)
    sizes = [1, 4, 25, 60]
    got = prior_log_likelihood(model, X, np.random.default_rng(5), sizes, batch_size=7)
    z = np.random.default_rng(5).standard_normal((60, 2))
    log_w = pairwise_log_px(model, X, model.decoder.forward(z))
    for row, S in enumerate(sizes):
        np.testing.assert_allclose(got["log_px"][row], logsumexp(log_w[:, :S], axis=1) - np.log(S),
                                   rtol=1e-12)
        w = np.exp(log_w[:, :S])
        np.testing.assert_allclose(got["ess"][row], w.sum(1) ** 2 / (w * w).sum(1), rtol=1e-9)
    np.testing.assert_allclose(got["ess"][0], 1.0)
    assert np.all(got["ess"] <= np.array(sizes)[:, None] + 1e-9)


def test_prior_log_likelihood_does_not_depend_on_the_batch_size(small_model):
    model = small_model(dtype=np.float64)
    X = _data(2, 10)
    a = prior_log_likelihood(model, X, np.random.default_rng(0), [10, 100], batch_size=1)
    b = prior_log_likelihood(model, X, np.random.default_rng(0), [10, 100], batch_size=1000)
    np.testing.assert_allclose(a["log_px"], b["log_px"], rtol=1e-12)


def test_prior_and_importance_estimates_converge_to_the_integral(small_model):
    # A 2-D latent space can be integrated on a grid: p(x) = sum p(x|z) N(z; 0, I) dz^2.
    model = small_model(dtype=np.float64, seed=3)
    X = _data(2, 10, seed=4)
    g = np.linspace(-7, 7, 281)
    Z = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    log_joint = pairwise_log_px(model, X, model.decoder.forward(Z)) + log_normal_std(Z)
    exact = logsumexp(log_joint, axis=1) + 2 * np.log(g[1] - g[0])
    naive = prior_log_likelihood(model, X, np.random.default_rng(1), [20000])["log_px"][0]
    iw = model.log_likelihood(X, np.random.default_rng(2), k=20000)
    np.testing.assert_allclose(naive, exact, atol=0.02)
    np.testing.assert_allclose(iw, exact, atol=0.02)


def test_prior_log_likelihood_validates(small_model):
    model = small_model()
    X = _data(2, 10).astype(np.float32)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="strictly increasing"):
        prior_log_likelihood(model, X, rng, [10, 10])
    with pytest.raises(vae_np.InvalidParameterError, match="sizes"):
        prior_log_likelihood(model, X, rng, 10)
    with pytest.raises(vae_np.InvalidParameterError, match="model"):
        prior_log_likelihood(small_model(vae_np.Autoencoder), X, rng, [10])
    with pytest.raises(vae_np.InvalidParameterError, match="rng"):
        prior_log_likelihood(model, X, 0, [10])
    with pytest.raises(ValueError, match="features"):
        prior_log_likelihood(model, np.zeros((2, 9)), rng, [10])
    with pytest.raises(ValueError, match="out must have shape"):
        pairwise_log_px(model, X, np.zeros((3, 9)))
