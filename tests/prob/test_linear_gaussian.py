"""Tests for vae_np.prob.linear_gaussian: exact evidence, posterior and ELBO of the
linear-Gaussian model."""
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from vae_np.nn.gradcheck import numerical_gradient
from vae_np.prob.divergences import kl_mvn
from vae_np.prob.linear_gaussian import LinearGaussian


@pytest.fixture
def model():
    return LinearGaussian.random(data_dim=4, latent_dim=2, sigma=0.7, rng=np.random.default_rng(0))


def test_log_marginal_matches_scipy_and_sampling_moments(model):
    X, _ = model.sample(5, np.random.default_rng(1))
    ref = multivariate_normal(model.b, model.marginal_cov()).logpdf(X)
    np.testing.assert_allclose(model.log_marginal(X), ref, rtol=0, atol=1e-10)
    big, _ = model.sample(100_000, np.random.default_rng(2))
    np.testing.assert_allclose(np.cov(big.T), model.marginal_cov(), atol=0.05)


def test_posterior_is_bayes_rule(model):
    """p(z|x) = p(x|z) p(z) / p(x) at arbitrary points."""
    rng = np.random.default_rng(3)
    X, _ = model.sample(3, rng)
    mean, cov = model.posterior(X)
    Z = rng.standard_normal((3, 2))
    log_post = np.array([multivariate_normal(mean[i], cov).logpdf(Z[i]) for i in range(3)])
    np.testing.assert_allclose(log_post, model.log_joint(X, Z) - model.log_marginal(X), atol=1e-10)
    A, c = model.posterior_map()
    np.testing.assert_allclose(X @ A.T + c, mean, atol=1e-12)


def test_elbo_plus_kl_is_log_evidence(model):
    rng = np.random.default_rng(4)
    X, _ = model.sample(6, rng)
    post_mean, post_cov = model.posterior(X)
    B = rng.standard_normal((6, 2, 2))
    q_cov = B @ np.swapaxes(B, 1, 2) + 0.1 * np.eye(2)
    q_mean = rng.standard_normal((6, 2))
    elbo = model.elbo(X, q_mean, q_cov)
    gap = kl_mvn(q_mean, q_cov, post_mean, post_cov)
    np.testing.assert_allclose(elbo + gap, model.log_marginal(X), rtol=0, atol=1e-10)
    assert np.all(elbo < model.log_marginal(X))
    np.testing.assert_allclose(model.elbo(X, post_mean, post_cov), model.log_marginal(X),
                               atol=1e-10)


def test_elbo_matches_monte_carlo(model):
    rng = np.random.default_rng(5)
    X, _ = model.sample(1, rng)
    m, C = np.array([0.3, -0.2]), np.array([[0.5, 0.1], [0.1, 0.3]])
    z = rng.multivariate_normal(m, C, size=100_000)[:, None, :]          # (S, 1, k)
    vals = model.log_joint(X, z)[:, 0] - multivariate_normal(m, C).logpdf(z[:, 0])
    exact = model.elbo(X, m, C)[0]
    assert abs(vals.mean() - exact) < 4 * vals.std() / np.sqrt(len(vals))


def test_elbo_grads_match_finite_differences(model):
    rng = np.random.default_rng(6)
    X, _ = model.sample(3, rng)
    m = rng.standard_normal((3, 2))
    L = np.tril(rng.standard_normal((3, 2, 2))) + 2 * np.eye(2)
    _, dm, dL = model.elbo_and_grads(X, m, L)
    f = lambda: model.elbo(X, m, L @ np.swapaxes(L, 1, 2)).sum()   # noqa: E731
    np.testing.assert_allclose(dm, numerical_gradient(f, m), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dL, np.tril(numerical_gradient(f, L)), rtol=1e-6, atol=1e-7)


def test_elbo_grads_vanish_at_posterior(model):
    X, _ = model.sample(2, np.random.default_rng(7))
    mean, cov = model.posterior(X)
    _, dm, dL = model.elbo_and_grads(X, mean, np.linalg.cholesky(cov))
    assert np.abs(dm).max() < 1e-10 and np.abs(dL).max() < 1e-10


def test_bad_inputs_raise(model):
    with pytest.raises(ValueError, match="sigma"):
        LinearGaussian(np.ones((3, 2)), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="features"):
        model.log_marginal(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="q_cov"):
        model.elbo(np.zeros((2, 4)), np.zeros((2, 2)), np.eye(3))
    with pytest.raises(ValueError, match="positive definite"):
        model.elbo(np.zeros((1, 4)), np.zeros(2), -np.eye(2))
