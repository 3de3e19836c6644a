"""Tests for vae_np.prob.estimators: unbiasedness of the score-function and pathwise estimators, the
inverse-transform exponential, and the SGVB estimators A and B of a VAE."""
import numpy as np
import pytest

import vae_np
from vae_np.nn.gradcheck import numerical_gradient, relative_error
from vae_np.nn.losses import log_normal_diag
from vae_np.prob import estimators as est

MU, LOGVAR = np.array([0.5, -1.0]), np.array([-0.4, 0.3])


def f(z):                                  # E_q[sum z**2] = sum(mu**2 + exp(logvar))
    return (z * z).sum(axis=1)


def grad_f(z):
    return 2 * z


def test_mean_and_stderr():
    m, se = est.mean_and_stderr(np.array([1.0, 2.0, 3.0, 4.0]))
    assert m == 2.5 and abs(se - np.std([1, 2, 3, 4], ddof=1) / 2) < 1e-15
    with pytest.raises(ValueError, match="at least 2"):
        est.mean_and_stderr(np.array([1.0]))


def test_gaussian_score_has_zero_mean_and_matches_finite_differences():
    rng = np.random.default_rng(0)
    z = MU + np.exp(0.5 * LOGVAR) * rng.standard_normal((200_000, 2))
    smu, slv = est.gaussian_score(z, MU, LOGVAR)
    for s in (smu, slv):
        m, se = est.mean_and_stderr(s)
        assert np.all(np.abs(m) < 4 * se)
    z0 = z[:1]
    logq = lambda mu, lv: log_normal_diag(z0, mu, lv)[0]  # noqa: E731
    mu, lv = MU.copy(), LOGVAR.copy()
    s0mu, s0lv = est.gaussian_score(z0, MU, LOGVAR)
    assert relative_error(s0mu[0], numerical_gradient(lambda: logq(mu, lv), mu)) < 1e-6
    assert relative_error(s0lv[0], numerical_gradient(lambda: logq(mu, lv), lv)) < 1e-6


@pytest.mark.parametrize("which", ["score", "pathwise"])
def test_estimators_are_unbiased(which):
    eps = np.random.default_rng(1).standard_normal((100_000, 2))
    if which == "score":
        gmu, glv = est.score_function_gradient(f, MU, LOGVAR, eps)
    else:
        gmu, glv = est.pathwise_gradient(grad_f, MU, LOGVAR, eps)
    for g, truth in ((gmu, 2 * MU), (glv, np.exp(LOGVAR))):
        m, se = est.mean_and_stderr(g)
        assert np.all(np.abs(m - truth) < 4 * se)


def test_pathwise_has_lower_variance_and_baseline_helps_score():
    eps = np.random.default_rng(2).standard_normal((20_000, 2))
    s_mu, _ = est.score_function_gradient(f, MU, LOGVAR, eps)
    baseline = float(f(MU[None])[0] + np.exp(LOGVAR).sum())
    b_mu, _ = est.score_function_gradient(f, MU, LOGVAR, eps, baseline=baseline)
    p_mu, _ = est.pathwise_gradient(grad_f, MU, LOGVAR, eps)
    assert np.all(p_mu.var(0) * 5 < s_mu.var(0))
    assert np.all(b_mu.var(0) < s_mu.var(0))


def test_estimator_input_errors():
    with pytest.raises(ValueError, match="eps must have shape"):
        est.pathwise_gradient(grad_f, MU, LOGVAR, np.zeros(2))
    with pytest.raises(ValueError, match="one value per sample"):
        est.score_function_gradient(lambda z: z, MU, LOGVAR, np.zeros((3, 2)))


def test_exponential_reparam():
    rng = np.random.default_rng(3)
    u = rng.random(200_000)
    rate = 2.0
    z, dz = est.exponential_reparam(u, rate)
    m, se = est.mean_and_stderr(z)
    assert abs(m - 1 / rate) < 4 * se
    h = 1e-6
    fd = (est.exponential_reparam(u[:10], rate + h)[0]
          - est.exponential_reparam(u[:10], rate - h)[0]) / (2 * h)
    np.testing.assert_allclose(dz[:10], fd, rtol=1e-6)
    g, se = est.mean_and_stderr(2 * z * dz)                 # d/drate E[z**2] = -4 / rate**3
    assert abs(g + 4 / rate ** 3) < 4 * se
    with pytest.raises(ValueError, match="rate"):
        est.exponential_reparam(u, -1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        est.exponential_reparam(np.array([1.0]), 1.0)


def _vae64():
    return vae_np.VAE(6, [5], 3, activation="tanh", seed=0, dtype=np.float64)


@pytest.fixture
def vae64():
    rng = np.random.default_rng(4)
    return _vae64(), rng.random((4, 6)), rng.standard_normal((4, 3))


def test_sgvb_terms_consistent_with_model(vae64):
    model, X, eps = vae64
    t = est.sgvb_terms(model, X, eps)
    loss, _ = model.loss_and_grads(X, eps)
    assert abs(-t["B"].mean() - loss) < 1e-10
    np.testing.assert_allclose(t["A"] - t["B"], t["kl"] - t["kl_mc"], atol=1e-12)


def test_sgvb_a_and_b_have_the_same_mean():
    model = _vae64()
    X = np.random.default_rng(4).random((1, 6))
    eps = np.random.default_rng(5).standard_normal((50_000, 3))
    t = est.sgvb_terms(model, np.repeat(X, len(eps), axis=0), eps)
    d, se = est.mean_and_stderr(t["A"] - t["B"])
    assert abs(d) < 4 * se
    assert t["B"].var() < t["A"].var()


@pytest.mark.parametrize("estimator", ["A", "B"])
def test_sgvb_grads_match_finite_differences(vae64, estimator):
    model, X, eps = vae64
    loss, grads = est.sgvb_loss_and_grads(model, X, eps, estimator)
    t = est.sgvb_terms(model, X, eps)
    assert abs(loss + t[estimator].mean()) < 1e-10
    analytic = {k: g.copy() for k, g in grads.items()}
    fun = lambda: est.sgvb_loss_and_grads(model, X, eps, estimator)[0]  # noqa: E731
    for name, p in model.params.items():
        assert relative_error(analytic[name], numerical_gradient(fun, p)) < 1e-6, name


def test_sgvb_rejects_unknown_estimator(vae64):
    model, X, eps = vae64
    with pytest.raises(ValueError, match=(r"'estimator' parameter of sgvb_loss_and_grads"
                                          r" must be a str among \{'A', 'B'\}")):
        est.sgvb_loss_and_grads(model, X, eps, "C")


def test_sgvb_variance_matches_direct_computation(vae64):
    model, X, _ = vae64
    values, grad_var = est.sgvb_variance(model, X, 5, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    for e in ("A", "B"):
        assert values[e].shape == (5, len(X))
    stacks = {"A": [], "B": []}
    for _ in range(5):
        eps = rng.standard_normal((len(X), model.latent_dim))
        t = est.sgvb_terms(model, X, eps)
        np.testing.assert_allclose(values["B"][_], t["B"], rtol=1e-12)
        for e in ("A", "B"):
            g = est.sgvb_loss_and_grads(model, X, eps, e)[1]
            stacks[e].append(np.concatenate([g[k].ravel() for k in model.params
                                             if k.startswith("enc.")]))
    for e in ("A", "B"):
        direct = np.array(stacks[e]).var(axis=0, ddof=1).sum()
        assert abs(grad_var[e] - direct) < 1e-9 * max(1.0, direct)
    with pytest.raises(ValueError, match="at least 2"):
        est.sgvb_variance(model, X, 1, rng)
    with pytest.raises(ValueError, match="no parameter"):
        est.sgvb_variance(model, X, 2, rng, prefix="nope")
