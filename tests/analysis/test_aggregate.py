"""vae_np.analysis.aggregate: the aggregate posterior and the ELBO-surgery decomposition."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis.aggregate import aggregate_log_density, component_log_densities, elbo_surgery
from vae_np.nn.losses import log_normal_diag, logsumexp


def _posteriors(N, k, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    return spread * rng.standard_normal((N, k)), rng.uniform(-3, 0.5, (N, k))


def test_component_log_densities_are_log_normal_diag_for_every_pair():
    mu, logvar = _posteriors(7, 3)
    z = np.random.default_rng(1).standard_normal((5, 3)) * 2
    got = component_log_densities(z, mu, logvar)
    want = log_normal_diag(z[:, None, :], mu[None], logvar[None])
    assert got.shape == (5, 7)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_aggregate_log_density_is_the_log_mean_of_components_in_any_batch_size():
    mu, logvar = _posteriors(9, 2)
    z = np.random.default_rng(2).standard_normal((11, 2))
    want = logsumexp(log_normal_diag(z[:, None, :], mu[None], logvar[None]), axis=1) - np.log(9)
    for batch_size in (1, 4, 1000):
        np.testing.assert_allclose(aggregate_log_density(z, mu, logvar, batch_size), want,
                                   rtol=1e-10)


def test_aggregate_density_integrates_to_one():
    mu, logvar = _posteriors(5, 1, spread=2.0)
    g = np.linspace(-15, 15, 60001)[:, None]
    assert abs(np.exp(aggregate_log_density(g, mu, logvar)).sum() * (g[1, 0] - g[0, 0]) - 1) < 1e-6


def test_surgery_terms_add_up_and_estimate_the_rate():
    mu, logvar = _posteriors(300, 3, spread=1.5)
    s = elbo_surgery(mu, logvar, np.random.default_rng(0), n_samples=20)
    assert s["mutual_info"] + s["marginal_kl"] == pytest.approx(s["rate_mc"], abs=1e-9)
    assert abs(s["rate_mc"] - s["rate"]) < 4 * s["rate_mc_se"]
    assert 0 < s["mutual_info"] < s["log_n"] == pytest.approx(np.log(300))
    assert s["marginal_kl"] > 0


def test_identical_posteriors_carry_no_information():
    # Every image has the same q(z|x): q(z) is that Gaussian, I(x; z) = 0, the rate is marginal.
    mu = np.tile([[0.5, -1.0]], (50, 1))
    logvar = np.tile([[-1.0, 0.3]], (50, 1))
    s = elbo_surgery(mu, logvar, np.random.default_rng(1), n_samples=10)
    assert s["mutual_info"] == pytest.approx(0.0, abs=1e-9)
    assert s["marginal_kl"] == pytest.approx(s["rate"], abs=4 * s["marginal_kl_se"])


def test_separated_posteriors_reach_log_n():
    # Narrow posteriors far apart: each code names its image, so I(x; z) = log N.
    mu = 50.0 * np.arange(8, dtype=float)[:, None]
    logvar = np.full((8, 1), -4.0)
    s = elbo_surgery(mu, logvar, np.random.default_rng(2), n_samples=5)
    assert s["mutual_info"] == pytest.approx(np.log(8), abs=1e-6)


def test_aggregate_functions_validate():
    mu, logvar = _posteriors(4, 2)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="features"):
        aggregate_log_density(np.zeros((3, 3)), mu, logvar)
    with pytest.raises(ValueError, match="features"):
        elbo_surgery(mu, logvar[:, :1], rng)
    with pytest.raises(ValueError, match="same shape"):
        elbo_surgery(mu, logvar[:3], rng)
    with pytest.raises(vae_np.InvalidParameterError, match="rng"):
        elbo_surgery(mu, logvar, 1)
    with pytest.raises(vae_np.InvalidParameterError, match="n_samples"):
        elbo_surgery(mu, logvar, rng, n_samples=0)
    with pytest.raises(ValueError, match="at least 2 codes"):
        elbo_surgery(mu[:1], logvar[:1], rng)
    with pytest.raises(vae_np.InvalidParameterError, match="batch_size"):
        aggregate_log_density(mu, mu, logvar, batch_size=0)
