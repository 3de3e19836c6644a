"""Gaussian log-densities against scipy.stats, and sampling moments."""
import numpy as np
import pytest
from scipy import stats

from vae_np.prob import gaussians


def test_normal_logpdf_matches_scipy_with_broadcasting():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3)) * 4
    mean = rng.standard_normal(3)
    std = rng.random(3) + 0.1
    np.testing.assert_allclose(gaussians.normal_logpdf(x, mean, std),
                               stats.norm.logpdf(x, mean, std), rtol=1e-12)


def test_normal_logpdf_is_finite_far_in_the_tail():
    # the density underflows to 0 in float64 here; its logarithm must not
    assert stats.norm.pdf(60.0) == 0.0
    assert gaussians.normal_logpdf(60.0) == pytest.approx(stats.norm.logpdf(60.0), rel=1e-12)


@pytest.mark.parametrize("std", [0.0, -1.0, np.nan])
def test_normal_logpdf_rejects_bad_std(std):
    with pytest.raises(ValueError, match="std must be finite and > 0"):
        gaussians.normal_logpdf(0.0, 0.0, std)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_mvn_logpdf_matches_scipy(d):
    rng = np.random.default_rng(d)
    A = rng.standard_normal((d, d))
    cov = A @ A.T + 0.5 * np.eye(d)
    mean = rng.standard_normal(d)
    X = rng.standard_normal((7, d)) * 2
    np.testing.assert_allclose(gaussians.mvn_logpdf(X, mean, cov),
                               stats.multivariate_normal(mean, cov).logpdf(X).reshape(7),
                               rtol=1e-10)
    # a single point gives a scalar
    assert np.ndim(gaussians.mvn_logpdf(X[0], mean, cov)) == 0


def test_mvn_logpdf_diagonal_is_a_sum_of_univariate_logpdfs():
    rng = np.random.default_rng(3)
    std = rng.random(4) + 0.2
    mean = rng.standard_normal(4)
    X = rng.standard_normal((6, 4))
    np.testing.assert_allclose(gaussians.mvn_logpdf(X, mean, np.diag(std ** 2)),
                               gaussians.normal_logpdf(X, mean, std).sum(axis=1), rtol=1e-12)


def test_mvn_rejects_non_positive_definite_and_non_symmetric():
    with pytest.raises(ValueError, match="not positive definite"):
        gaussians.mvn_logpdf(np.zeros((1, 2)), np.zeros(2), [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        gaussians.mvn_logpdf(np.zeros((1, 2)), np.zeros(2), [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="features"):
        gaussians.mvn_logpdf(np.zeros((1, 3)), np.zeros(2), np.eye(2))


def test_mvn_sample_has_the_requested_moments():
    rng = np.random.default_rng(4)
    cov = np.array([[2.0, 0.8], [0.8, 0.5]])
    mean = np.array([1.0, -2.0])
    S = gaussians.mvn_sample(200_000, mean, cov, rng)
    assert S.shape == (200_000, 2)
    np.testing.assert_allclose(S.mean(axis=0), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(S, rowvar=False), cov, atol=0.02)
