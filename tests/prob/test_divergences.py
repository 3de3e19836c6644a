"""Tests for vae_np.prob.divergences: closed-form KLs against quadrature, Monte Carlo and each
other."""
from functools import partial

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from vae_np.nn.losses import kl_normal_std_per_example
from vae_np.prob import divergences as dv


def test_kl_normal_matches_quadrature():
    for mq, lq, mp, lp in [(0.3, -0.7, -1.2, 0.4), (2.0, 1.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)]:
        sq, sp = np.exp(0.5 * lq), np.exp(0.5 * lp)
        ref, err = dv.kl_quadrature(partial(norm.logpdf, loc=mq, scale=sq),
                                    partial(norm.logpdf, loc=mp, scale=sp))
        assert err < 1e-8
        assert abs(float(dv.kl_normal(mq, lq, mp, lp)) - ref) < 1e-8


def test_kl_normal_zero_iff_equal_and_asymmetric():
    assert float(dv.kl_normal(0.5, 0.3, 0.5, 0.3)) == 0.0
    a = float(dv.kl_normal(0.0, 0.0, 1.0, np.log(4.0)))
    b = float(dv.kl_normal(1.0, np.log(4.0), 0.0, 0.0))
    assert a > 0 and b > 0 and abs(a - b) > 0.1


def test_kl_normal_no_overflow_for_equal_large_variances():
    kl = dv.kl_normal(1.0, 800.0, 1.0, 800.0)
    assert np.isfinite(kl) and abs(float(kl)) < 1e-12


def test_kl_diag_normal_reduces_to_library_kl_std():
    rng = np.random.default_rng(0)
    mu, lv = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(dv.kl_diag_normal(mu, lv), kl_normal_std_per_example(mu, lv),
                               rtol=1e-13, atol=1e-13)


def test_kl_diag_normal_equals_kl_mvn_with_diagonal_covariances():
    rng = np.random.default_rng(1)
    mq, lq, mp, lp = (rng.standard_normal(4) for _ in range(4))
    full = dv.kl_mvn(mq, np.diag(np.exp(lq)), mp, np.diag(np.exp(lp)))
    assert abs(float(dv.kl_diag_normal(mq, lq, mp, lp)) - float(full)) < 1e-12


def test_kl_mvn_matches_monte_carlo_and_broadcasts():
    rng = np.random.default_rng(2)
    k = 3
    A, B = rng.standard_normal((k, k)), rng.standard_normal((k, k))
    Cq, Cp = A @ A.T + 0.5 * np.eye(k), B @ B.T + 0.5 * np.eye(k)
    mq, mp = rng.standard_normal(k), rng.standard_normal(k)
    kl = float(dv.kl_mvn(mq, Cq, mp, Cp))
    z = rng.multivariate_normal(mq, Cq, size=200_000)
    vals = multivariate_normal(mq, Cq).logpdf(z) - multivariate_normal(mp, Cp).logpdf(z)
    assert abs(vals.mean() - kl) < 4 * vals.std() / np.sqrt(len(z))
    batch = dv.kl_mvn(np.stack([mq, mp]), Cq, mp, Cp)        # (2, k) means against one p
    assert batch.shape == (2,)
    assert abs(batch[0] - kl) < 1e-12 and abs(batch[1] - float(dv.kl_mvn(mp, Cq, mp, Cp))) < 1e-12


def test_kl_mvn_rejects_bad_covariances():
    with pytest.raises(ValueError, match="symmetric"):
        dv.kl_mvn(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        dv.kl_mvn(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="shapes disagree"):
        dv.kl_mvn(np.zeros(3), np.eye(2), np.zeros(2), np.eye(2))


def test_kl_normal_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        dv.kl_normal(np.nan, 0.0)
    with pytest.raises(ValueError, match="last axis"):
        dv.kl_diag_normal(0.0, 0.0)
