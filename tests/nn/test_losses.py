"""Losses: values against direct formulas, gradients against finite differences."""
import numpy as np
import pytest
from scipy import stats

from vae_np.nn import losses
from vae_np.nn.gradcheck import numerical_gradient, relative_error


def test_bernoulli_nll_value_and_gradient():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 6)) * 3
    X = rng.random((4, 6))
    loss, dlogits = losses.bernoulli_nll(logits, X)
    p = 1 / (1 + np.exp(-logits))
    direct = -(X * np.log(p) + (1 - X) * np.log(1 - p)).sum(axis=1).mean()
    assert loss == pytest.approx(direct, rel=1e-12)
    num = numerical_gradient(lambda: losses.bernoulli_nll(logits, X)[0], logits)
    assert relative_error(dlogits, num) < 1e-6


def test_bernoulli_log_prob_matches_scipy_for_binary_data():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 5))
    X = (rng.random((3, 5)) < 0.5).astype(float)
    p = 1 / (1 + np.exp(-logits))
    expected = stats.bernoulli.logpmf(X, p).sum(axis=1)
    np.testing.assert_allclose(losses.bernoulli_log_prob(logits, X), expected, rtol=1e-12)


def test_bernoulli_nll_is_finite_for_extreme_logits():
    logits = np.array([[-1e4, 1e4, -800.0, 800.0]])
    X = np.array([[1.0, 0.0, 1.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = losses.bernoulli_nll(logits, X)
    assert loss == pytest.approx(1e4 + 1e4 + 800 + 800)
    np.testing.assert_allclose(d, [[-1.0, 1.0, -1.0, 1.0]])


def test_gaussian_nll_value_and_gradient():
    rng = np.random.default_rng(2)
    mean = rng.standard_normal((5, 3))
    X = rng.standard_normal((5, 3))
    loss, dmean = losses.gaussian_nll(mean, X, obs_std=0.7)
    expected = -stats.norm.logpdf(X, mean, 0.7).sum(axis=1).mean()
    assert loss == pytest.approx(expected, rel=1e-12)
    num = numerical_gradient(lambda: losses.gaussian_nll(mean, X, 0.7)[0], mean)
    assert relative_error(dmean, num) < 1e-6


def test_kl_normal_std_value_and_gradients():
    rng = np.random.default_rng(3)
    mu = rng.standard_normal((4, 3))
    logvar = rng.standard_normal((4, 3))
    kl, dmu, dlogvar = losses.kl_normal_std(mu, logvar)
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2)/2 - 1/2, per dimension
    s = np.exp(0.5 * logvar)
    direct = (np.log(1 / s) + (s ** 2 + mu ** 2) / 2 - 0.5).sum(axis=1).mean()
    assert kl == pytest.approx(direct, rel=1e-12)
    assert relative_error(dmu, numerical_gradient(
        lambda: losses.kl_normal_std(mu, logvar)[0], mu)) < 1e-6
    assert relative_error(dlogvar, numerical_gradient(
        lambda: losses.kl_normal_std(mu, logvar)[0], logvar)) < 1e-6


def test_kl_is_zero_only_at_the_prior():
    assert losses.kl_normal_std(np.zeros((2, 3)), np.zeros((2, 3)))[0] == 0.0
    assert losses.kl_normal_std(np.full((1, 1), 0.1), np.zeros((1, 1)))[0] > 0


def test_log_normal_densities_match_scipy():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((6, 3))
    mu = rng.standard_normal((6, 3))
    logvar = rng.standard_normal((6, 3))
    np.testing.assert_allclose(losses.log_normal_std(z), stats.norm.logpdf(z).sum(axis=1))
    np.testing.assert_allclose(losses.log_normal_diag(z, mu, logvar),
                               stats.norm.logpdf(z, mu, np.exp(0.5 * logvar)).sum(axis=1))


def test_logsumexp_is_stable():
    a = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(losses.logsumexp(a, axis=1), [1000 + np.log(2), -1000 + np.log(2)])
    assert losses.logsumexp(np.array([-np.inf, 0.0])) == 0.0
    assert losses.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_sigmoid_never_overflows():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = losses.sigmoid(np.array([-1e5, 0.0, 1e5]))
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])
