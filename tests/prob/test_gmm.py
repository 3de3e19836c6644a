"""EM for Gaussian mixtures: recovery of a known mixture, monotone objective, API behaviour."""
import numpy as np
import pytest

from vae_np.plotting import plot_density_2d, plot_mixture_1d
from vae_np.prob.gaussians import mvn_logpdf
from vae_np.prob.gmm import GaussianMixture, NotFittedError

WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
COVS = np.array([np.eye(2), [[1.0, 0.5], [0.5, 1.0]], 0.5 * np.eye(2)])


def known_mixture():
    return GaussianMixture(3).set_params(WEIGHTS, MEANS, COVS)


def match_components(means):
    """Order of the fitted components that best matches MEANS (components are unordered)."""
    return np.array([np.argmin(((means - m) ** 2).sum(axis=1)) for m in MEANS])


def test_em_recovers_a_known_mixture():
    X, _ = known_mixture().sample(3000, np.random.default_rng(1))
    gmm = GaussianMixture(3, seed=0).fit(X)
    order = match_components(gmm.means_)
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(gmm.weights_[order], WEIGHTS, atol=0.03)
    np.testing.assert_allclose(gmm.means_[order], MEANS, atol=0.1)
    np.testing.assert_allclose(gmm.covariances_[order], COVS, atol=0.15)
    assert gmm.converged_


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("reg_covar", [0.0, 1e-2])
def test_em_objective_never_decreases(seed, reg_covar):
    rng = np.random.default_rng(10 + seed)
    X = np.concatenate([rng.standard_normal((150, 2)), rng.standard_normal((100, 2)) * 0.5 + 2])
    gmm = GaussianMixture(4, reg_covar=reg_covar, seed=seed, tol=0.0, max_iter=60).fit(X)
    assert np.diff(gmm.objective_).min() > -1e-10
    if reg_covar == 0:
        np.testing.assert_array_equal(gmm.objective_, gmm.log_likelihood_)
    assert gmm.log_likelihood_[-1] == pytest.approx(gmm.score(X), rel=1e-12)
    assert len(gmm.log_likelihood_) == gmm.n_iter_ + 1


def test_score_samples_is_the_log_of_the_mixture_density():
    gmm = known_mixture()
    X = np.random.default_rng(2).standard_normal((5, 2)) * 3
    direct = np.log(sum(w * np.exp(mvn_logpdf(X, m, c)) for w, m, c in zip(WEIGHTS, MEANS, COVS)))
    np.testing.assert_allclose(gmm.score_samples(X), direct, rtol=1e-12)
    assert gmm.score(X) == pytest.approx(direct.mean(), rel=1e-12)


def test_log_space_e_step_survives_far_away_points():
    # exp(log N) underflows to 0 for every component at x = 1e3; the log-space E-step does not
    gmm = known_mixture()
    far = np.array([[1e3, 0.0], [0.0, -1e3]])
    r = gmm.predict_proba(far)
    assert np.all(np.isfinite(r))
    np.testing.assert_allclose(r.sum(axis=1), 1.0)
    assert np.all(np.isfinite(gmm.score_samples(far)))
    log_joint = np.column_stack([np.log(w) + mvn_logpdf(far, m, c)
                                 for w, m, c in zip(WEIGHTS, MEANS, COVS)])
    np.testing.assert_array_equal(gmm.predict(far), log_joint.argmax(axis=1))
    assert np.exp(log_joint).max() == 0.0    # the naive E-step would divide 0 by 0


def test_predict_proba_is_bayes_rule():
    gmm = known_mixture()
    X = np.random.default_rng(3).standard_normal((4, 2)) * 2
    joint = np.column_stack([w * np.exp(mvn_logpdf(X, m, c))
                             for w, m, c in zip(WEIGHTS, MEANS, COVS)])
    np.testing.assert_allclose(gmm.predict_proba(X), joint / joint.sum(axis=1, keepdims=True),
                               rtol=1e-10)


def test_sample_is_deterministic_and_ancestral():
    gmm = known_mixture()
    X1, z1 = gmm.sample(20000, np.random.default_rng(5))
    X2, z2 = gmm.sample(20000, np.random.default_rng(5))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_allclose(np.bincount(z1, minlength=3) / len(z1), WEIGHTS, atol=0.01)
    for k in range(3):
        np.testing.assert_allclose(X1[z1 == k].mean(axis=0), MEANS[k], atol=0.06)


def test_one_dimensional_data_as_a_vector():
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.normal(-2, 0.5, 600), rng.normal(3, 1.0, 400)])
    gmm = GaussianMixture(2).fit(x)
    order = np.argsort(gmm.means_[:, 0])
    np.testing.assert_allclose(gmm.means_[order, 0], [-2, 3], atol=0.15)
    np.testing.assert_allclose(gmm.weights_[order], [0.6, 0.4], atol=0.04)
    assert gmm.score_samples(x[:5]).shape == (5,)


def test_fit_is_deterministic_given_the_seed():
    X, _ = known_mixture().sample(500, np.random.default_rng(7))
    a = GaussianMixture(3, seed=4).fit(X)
    b = GaussianMixture(3, seed=4).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)


def test_clear_errors():
    with pytest.raises(NotFittedError, match="fit"):
        GaussianMixture(2).score(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(0)
    with pytest.raises(ValueError, match="cannot fit 5 components to 3 points"):
        GaussianMixture(5).fit(np.random.default_rng(0).standard_normal((3, 2)))
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(2).set_params([0.5, 0.6], np.zeros((2, 1)), np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2).fit(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match="features"):
        known_mixture().score(np.zeros((2, 3)))


def test_plot_helpers_draw_the_mixture_and_its_components(plt):
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.normal(-2, 0.5, 300), rng.normal(2, 0.5, 300)])
    gmm = GaussianMixture(2).fit(x)
    ax = plot_mixture_1d(gmm, x)
    assert len(ax.lines) == 3                      # two components and the mixture
    # the components add up to the mixture curve
    comps = ax.lines[0].get_ydata() + ax.lines[1].get_ydata()
    np.testing.assert_allclose(comps, ax.lines[2].get_ydata(), rtol=1e-10)
    X, _ = known_mixture().sample(200, rng)
    ax = plot_density_2d(known_mixture().score_samples, X)
    assert ax.get_title() == "Density contours"
    with pytest.raises(ValueError, match="lim"):
        plot_density_2d(known_mixture().score_samples)
